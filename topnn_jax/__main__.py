"""`python -m topnn_jax` runs the `topnn-jax` command."""

import sys

from topnn_jax.cli import main

sys.exit(main())
