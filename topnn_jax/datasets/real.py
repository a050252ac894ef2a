"""Real data: scikit-learn's shipped sets and loaders for a user's own files.

Nothing is downloaded. `digits` and `breast-cancer` ship inside scikit-learn; MNIST IDX files,
the HTRU2 CSV and labelled point clouds (.npz / .csv) are read from paths the user gives.
True Betti numbers of real data are unknown (None); presets are starting points, to be checked
with `topnn-jax select-params`. scikit-learn takes most of a second to import: its shipped
tables are read without it (`topnn-jax datasets` lists them), and only PCA imports it.
"""

from __future__ import annotations

import gzip
import importlib.util
import zipfile
from pathlib import Path

import numpy as np

from topnn_jax.datasets.base import Dataset, TopologyPreset, validate_labelled_points
from topnn_jax.errors import InputError, existing_file, read_text

DEFAULT_TEST_FRACTION = 0.25
REAL_DATA_PRESET = TopologyPreset(k=13, scale=2, stride=1, maxdim=1)


def _split_train_test(
    points: np.ndarray, labels: np.ndarray, seed: int, test_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified random split; both index arrays are increasing (original order kept).

    Returns:
        (train_indices int64[n_train], test_indices int64[n_test]).
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, int | float):
        raise InputError(f"test_fraction must be a number, got {test_fraction!r}")
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(labels), dtype=bool)
    for label in (0, 1):
        members = np.flatnonzero(labels == label)
        n_test = round(len(members) * test_fraction)
        if n_test == 0 or n_test == len(members):
            raise InputError(
                f"class {label} has {len(members)} points: too few to split with test_fraction "
                f"{test_fraction}; give a test set explicitly or more points"
            )
        is_test[rng.choice(members, size=n_test, replace=False)] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale every feature by the training set's mean and standard deviation."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def _reduce_dimension(
    train: np.ndarray, test: np.ndarray, dims: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """PCA fitted on the training set to `dims` dimensions (None keeps all)."""
    if dims is None:
        return train, test
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= train.shape[1]:
        raise InputError(f"pca must be between 1 and {train.shape[1]} dimensions, got {dims}")
    from sklearn.decomposition import PCA

    pca = PCA(n_components=dims, random_state=seed).fit(train)
    return pca.transform(train), pca.transform(test)


def _labelled_dataset(
    name: str,
    points: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int,
    test_fraction: float,
    description: str,
    options: dict,
    test: tuple[np.ndarray, np.ndarray] | None = None,
    standardised: bool = False,
    pca: int | None = None,
    preset: TopologyPreset = REAL_DATA_PRESET,
) -> Dataset:
    """Build a `Dataset` from labelled arrays: split (unless `test` is given), standardise, PCA."""
    points, labels = _as_points(points, name), _as_labels(labels, name)
    validate_labelled_points(points, labels, what=name)
    if test is None:
        train_idx, test_idx = _split_train_test(points, labels, seed, test_fraction)
        test_points, test_labels = points[test_idx], labels[test_idx]
        points, labels = points[train_idx], labels[train_idx]
    else:
        what = f"{name} test set"
        test_points, test_labels = _as_points(test[0], what), _as_labels(test[1], what)
        validate_labelled_points(test_points, test_labels, what=what, need_both=False)
        if test_points.shape[1] != points.shape[1]:
            raise InputError(
                f"{what}: {test_points.shape[1]} features, but the training set has "
                f"{points.shape[1]}"
            )
    if standardised:
        points, test_points = _standardise(points, test_points)
    points, test_points = _reduce_dimension(points, test_points, pca, seed)
    return Dataset(
        name=name,
        train_points=points.astype(np.float32),
        train_labels=labels.astype(np.int32),
        test_points=test_points.astype(np.float32),
        test_labels=test_labels.astype(np.int32),
        preset=preset,
        true_betti=None,
        seed=seed,
        description=description,
        options=options,
    )


def _as_points(points: np.ndarray, what: str) -> np.ndarray:
    """float64 copy of numeric points, or `InputError` for non-numeric data."""
    array = np.asarray(points)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise InputError(f"{what}: points must be numeric, got dtype {array.dtype}")
    return array.astype(np.float64)


def _as_labels(labels: np.ndarray, what: str) -> np.ndarray:
    """int64 labels; floats are accepted when every value is a whole number."""
    array = np.asarray(labels)
    if np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)):
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise InputError(f"{what}: labels must be the integers 0 and 1, got dtype {array.dtype}")
    return array.astype(np.int64)


def _shipped_table(name: str, header_rows: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(features float64[n, d], target int64[n]) of a table scikit-learn ships in
    sklearn/datasets/data/ (CSV, the target last), read as its `load_*` function reads it,
    without importing scikit-learn."""
    package = importlib.util.find_spec("sklearn").submodule_search_locations[0]
    path = Path(package, "datasets", "data", name)
    table = np.loadtxt(path, delimiter=",", skiprows=header_rows)
    return table[:, :-1], table[:, -1].astype(np.int64)


def _check_digit(digit: int) -> None:
    """Raise `InputError` unless digit is 0..9."""
    if isinstance(digit, bool) or digit not in range(10):
        raise InputError(f"digit must be one of 0..9, got {digit!r}")


def make_digits(
    seed: int = 0,
    digit: int = 0,
    pca: int | None = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images): label 0 = `digit`, label 1 = the rest.

    Pixels are divided by 16 (values in [0, 1]); `pca` optionally reduces the 64 dimensions.
    """
    _check_digit(digit)
    pixels, target = _shipped_table("digits.csv.gz")
    labels = np.where(target == digit, 0, 1)
    return _labelled_dataset(
        "digits",
        pixels / 16.0,
        labels,
        seed=seed,
        test_fraction=test_fraction,
        pca=pca,
        description=f"8x8 handwritten digits (scikit-learn): digit {digit} (label 0) vs rest",
        options={"digit": digit, "pca": pca, "test_fraction": test_fraction},
    )


def make_breast_cancer(seed: int = 0, test_fraction: float = DEFAULT_TEST_FRACTION) -> Dataset:
    """scikit-learn's Wisconsin breast cancer set (569 x 30), standardised on the training set.

    Labels as shipped: 0 = malignant, 1 = benign.
    """
    features, target = _shipped_table("breast_cancer.csv", header_rows=1)
    return _labelled_dataset(
        "breast-cancer",
        features,
        target,
        seed=seed,
        test_fraction=test_fraction,
        standardised=True,
        description="Wisconsin breast cancer (scikit-learn), standardised: malignant (0) vs benign",
        options={"test_fraction": test_fraction},
    )


def _given_file(path: str | Path | None, what: str, option: str = "path") -> Path:
    """`existing_file` of a loader's option, or `InputError` naming the option when not given."""
    if path is None:
        raise InputError(f"{what}: no file given; pass {option}=FILE (-o {option}=FILE)")
    return existing_file(path, f"{what} file")


def _read_point_file(path: Path) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    """Read a labelled point cloud from .npz or .csv.

    .npz: arrays `points` and `labels`, or `train_points`, `train_labels` and optionally
    `test_points`, `test_labels` (the layout `topnn-jax datasets export` writes).
    .csv: numeric columns, the last one the label; a header line is skipped if present.

    Returns:
        points float[n, d], labels[n], and (test_points, test_labels) if the file has them.
    """
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise InputError(f"{path}: not a readable .npz file ({error})") from None
        for prefix in ("", "train_"):
            if f"{prefix}points" in arrays and f"{prefix}labels" in arrays:
                test = None
                if prefix and "test_points" in arrays and "test_labels" in arrays:
                    test = (arrays["test_points"], arrays["test_labels"])
                return arrays[f"{prefix}points"], arrays[f"{prefix}labels"], test
        raise InputError(
            f"{path}: expected arrays 'points' and 'labels' (or 'train_points' and "
            f"'train_labels'), found {sorted(arrays)}"
        )
    if suffix == ".csv":
        table = _read_numeric_csv(path)
        if table.shape[1] < 2:
            raise InputError(f"{path}: need at least one feature column and a label column")
        return table[:, :-1], table[:, -1], None
    raise InputError(f"{path}: unsupported file type {suffix!r}; use .npz or .csv")


def _read_numeric_csv(path: Path) -> np.ndarray:
    """float64[rows, columns] from a comma-separated file; one header line is allowed."""
    lines = [line for line in read_text(path, "CSV file").splitlines() if line.strip()]
    if not lines:
        raise InputError(f"{path}: the file is empty")
    first = lines[0].split(",")
    try:
        [float(cell) for cell in first]
    except ValueError:
        lines = lines[1:]  # a header
    rows = []
    for number, line in enumerate(lines, start=1):
        cells = line.split(",")
        if len(cells) != len(first):
            raise InputError(
                f"{path}: row {number} has {len(cells)} columns, expected {len(first)}"
            )
        try:
            rows.append([float(cell) for cell in cells])
        except ValueError:
            raise InputError(f"{path}: row {number} has a non-numeric value: {line!r}") from None
    if not rows:
        raise InputError(f"{path}: no data rows")
    return np.array(rows)


def make_points_file(
    seed: int = 0, path: str | Path | None = None, test_fraction: float = DEFAULT_TEST_FRACTION
) -> Dataset:
    """A user's labelled point cloud (.npz or .csv, see `_read_point_file`), labels 0 and 1.

    Without a test set in the file, a stratified `test_fraction` is held out with the seed.
    """
    path = _given_file(path, "points")
    points, labels, test = _read_point_file(path)
    return _labelled_dataset(
        path.stem,
        points,
        labels,
        seed=seed,
        test_fraction=test_fraction,
        test=test,
        description=f"labelled point cloud from {path}",
        options={"path": str(path), "test_fraction": test_fraction},
    )


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST format, optionally gzipped) as a uint8 array of its stated shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise InputError(f"{path}: cannot read IDX file ({error})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise InputError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise InputError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) - header != int(np.prod(shape)):
        raise InputError(
            f"{path}: IDX header promises shape {shape} but the file holds "
            f"{len(data) - header} values"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _read_mnist_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    """float64[n, rows*cols] pixels in [0, 1] and uint8[n] digits from an IDX image/label pair."""
    pixels = _read_idx(images)
    digits = _read_idx(labels)
    if pixels.ndim != 3 or digits.ndim != 1 or len(pixels) != len(digits):
        raise InputError(
            f"{images} and {labels}: expected images [n, rows, cols] and labels [n], got "
            f"{pixels.shape} and {digits.shape}"
        )
    return pixels.reshape(len(pixels), -1) / 255.0, digits


def make_mnist(
    seed: int = 0,
    images: str | Path | None = None,
    labels: str | Path | None = None,
    test_images: str | Path | None = None,
    test_labels: str | Path | None = None,
    digit: int = 0,
    pca: int | None = 50,
    test_fraction: float = DEFAULT_TEST_FRACTION,
) -> Dataset:
    """MNIST from the user's IDX files: label 0 = `digit`, label 1 = the rest, PCA to 50 dims.

    Without test files, a stratified `test_fraction` of the training files is held out.
    """
    _check_digit(digit)
    if images is None or labels is None:
        raise InputError(
            "mnist reads your IDX files: pass images=FILE and labels=FILE (-o images=FILE "
            "-o labels=FILE; optionally test_images= and test_labels=)"
        )
    pixels, digits = _read_mnist_pair(
        _given_file(images, "mnist images", "images"), _given_file(labels, "mnist labels", "labels")
    )
    test = None
    if (test_images is None) != (test_labels is None):
        raise InputError("mnist: give both test_images and test_labels, or neither")
    if test_images is not None:
        test_pixels, test_digits = _read_mnist_pair(
            _given_file(test_images, "mnist test images", "test_images"),
            _given_file(test_labels, "mnist test labels", "test_labels"),
        )
        test = (test_pixels, np.where(test_digits == digit, 0, 1))
    return _labelled_dataset(
        "mnist",
        pixels,
        np.where(digits == digit, 0, 1),
        seed=seed,
        test_fraction=test_fraction,
        test=test,
        pca=pca,
        preset=TopologyPreset(k=13, scale=2, stride=10, maxdim=1),
        description=f"MNIST (user's IDX files): digit {digit} (label 0) vs rest, PCA {pca}",
        options={"images": str(images), "digit": digit, "pca": pca},
    )


HTRU2_FEATURES = 8


def make_htru2(
    seed: int = 0, path: str | Path | None = None, test_fraction: float = DEFAULT_TEST_FRACTION
) -> Dataset:
    """HTRU2 pulsar candidates from the user's CSV (8 features, then class; 1 = pulsar).

    Features are standardised on the training set.
    """
    path = _given_file(path, "htru2")
    table = _read_numeric_csv(path)
    if table.shape[1] != HTRU2_FEATURES + 1:
        raise InputError(
            f"{path}: HTRU2 has {HTRU2_FEATURES} feature columns and a class column, found "
            f"{table.shape[1]} columns"
        )
    return _labelled_dataset(
        "htru2",
        table[:, :-1],
        table[:, -1],
        seed=seed,
        test_fraction=test_fraction,
        standardised=True,
        preset=TopologyPreset(k=13, scale=2, stride=4, maxdim=1),
        description=f"HTRU2 pulsars from {path}, standardised: noise (0) vs pulsar (1)",
        options={"path": str(path), "test_fraction": test_fraction},
    )
