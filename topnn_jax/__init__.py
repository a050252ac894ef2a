"""topnn-jax: how the topology of a data set changes through the layers of neural networks.

JAX trains many small networks at once; giotto-ph measures the Betti numbers of every layer.
"""

__version__ = "0.1.0"
