"""Which calls draw random numbers, and which set a seed: static knowledge of common libraries."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from nb2pipe.analysis.symbols import CallSite, ImportBinding

__all__ = [
    "RandomCall", "RandomDraw", "classify_random_call", "is_seed_call", "random_calls",
    "resolve_callee",
]

_STDLIB_RANDOM_DRAWS = frozenset(
    {
        "random", "randint", "randrange", "choice", "choices", "shuffle", "sample", "uniform",
        "gauss", "normalvariate", "lognormvariate", "expovariate", "betavariate",
        "gammavariate", "triangular", "vonmisesvariate", "paretovariate", "weibullvariate",
        "getrandbits", "randbytes", "binomialvariate",
    }
)
_NUMPY_NOT_DRAWS = frozenset(
    {"seed", "default_rng", "RandomState", "Generator", "SeedSequence", "PCG64", "MT19937",
     "Philox", "SFC64", "BitGenerator", "get_state", "set_state"}
)
_TORCH_DRAWS = frozenset(
    {"rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like",
     "normal", "bernoulli", "multinomial", "poisson"}
)
#: scikit-learn callables whose ``random_state`` defaults to ``None`` and which do draw.
_SKLEARN_RANDOM = frozenset(
    {
        "train_test_split", "RandomForestClassifier", "RandomForestRegressor",
        "ExtraTreesClassifier", "ExtraTreesRegressor", "GradientBoostingClassifier",
        "GradientBoostingRegressor", "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor", "DecisionTreeClassifier", "DecisionTreeRegressor",
        "BaggingClassifier", "BaggingRegressor", "AdaBoostClassifier", "AdaBoostRegressor",
        "IsolationForest", "KMeans", "MiniBatchKMeans", "TSNE", "MLPClassifier", "MLPRegressor",
        "SGDClassifier", "SGDRegressor", "ShuffleSplit", "StratifiedShuffleSplit",
        "RandomizedSearchCV", "GaussianMixture", "TruncatedSVD", "make_classification",
        "make_regression", "make_blobs", "make_moons", "make_circles", "resample",
        # the other sample generators
        "make_swiss_roll", "make_s_curve", "make_gaussian_quantiles", "make_hastie_10_2",
        "make_friedman1", "make_friedman2", "make_friedman3", "make_low_rank_matrix",
        "make_sparse_coded_signal", "make_spd_matrix", "make_sparse_spd_matrix",
        "make_multilabel_classification", "make_biclusters", "make_checkerboard",
        "make_sparse_uncorrelated", "shuffle",
        # embeddings and clusterings started from random vectors (ARPACK's, k-means')
        "locally_linear_embedding", "LocallyLinearEmbedding", "SpectralEmbedding",
        "spectral_embedding", "MDS", "smacof", "SpectralClustering", "spectral_clustering",
        "BisectingKMeans", "k_means", "kmeans_plusplus", "SpectralBiclustering",
        "SpectralCoclustering", "BayesianGaussianMixture",
        # decompositions and projections that draw by default
        "FastICA", "fastica", "LatentDirichletAllocation", "DictionaryLearning",
        "MiniBatchDictionaryLearning", "SparsePCA", "MiniBatchSparsePCA", "FactorAnalysis",
        "GaussianRandomProjection", "SparseRandomProjection", "RBFSampler", "Nystroem",
        "SkewedChi2Sampler", "RandomTreesEmbedding", "BernoulliRBM",
        # estimators that shuffle or sample by default, and scores made of permutations
        "RANSACRegressor", "TheilSenRegressor", "Perceptron", "PassiveAggressiveClassifier",
        "PassiveAggressiveRegressor", "SGDOneClassSVM", "GroupShuffleSplit",
        "permutation_importance", "permutation_test_score",
    }
)
#: splitters that draw only with ``shuffle=True``
_SKLEARN_SHUFFLE_ONLY = frozenset({"KFold", "StratifiedKFold", "GroupKFold", "RepeatedKFold"})
#: functions that draw only when given this keyword (a sample of the data)
_SKLEARN_SAMPLE_ONLY = {"silhouette_score": "sample_size"}


@dataclass(frozen=True)
class RandomDraw:
    """A call that draws random numbers; ``seeded_by`` names the global seed that covers it."""

    call: CallSite
    qualified: str
    #: the global seed function that makes it reproducible (``None``: no global seed does)
    seeded_by: str | None


def resolve_callee(callee: str, imports: Mapping[str, ImportBinding]) -> str:
    """``np.random.rand`` → ``numpy.random.rand`` using the notebook's import bindings."""
    head, _, rest = callee.partition(".")
    binding = imports.get(head)
    if binding is None:
        return callee
    base = binding.qualified_name.lstrip(".")
    return f"{base}.{rest}" if rest else base


def is_seed_call(qualified: str) -> str | None:
    """The seed family a call seeds (``random``, ``numpy``, ``torch``), if it is a seed call."""
    if qualified == "random.seed":
        return "random"
    if qualified == "numpy.random.seed":
        return "numpy"
    if qualified in ("torch.manual_seed", "torch.random.manual_seed"):
        return "torch"
    return None


def classify_random_call(call: CallSite, qualified: str) -> RandomDraw | None:
    """A :class:`RandomDraw` if ``call`` (resolved to ``qualified``) draws random numbers."""
    parts = qualified.split(".")
    last = parts[-1]
    if parts[0] == "random" and len(parts) == 2 and last in _STDLIB_RANDOM_DRAWS:
        return RandomDraw(call, qualified, "random")
    if parts[:2] == ["numpy", "random"] and len(parts) == 3:
        if last == "default_rng":
            unseeded = not call.arg_roots and "seed" not in call.keywords
            unseeded = unseeded or "seed" in call.none_keywords
            return RandomDraw(call, qualified, None) if unseeded else None
        if last not in _NUMPY_NOT_DRAWS:
            return RandomDraw(call, qualified, "numpy")
    if parts[0] == "torch" and last in _TORCH_DRAWS and len(parts) <= 3:
        return RandomDraw(call, qualified, "torch")
    if parts[0] == "sklearn" and (
        last in _SKLEARN_RANDOM or last in _SKLEARN_SHUFFLE_ONLY or last in _SKLEARN_SAMPLE_ONLY
    ):
        if "random_state" in call.keywords and "random_state" not in call.none_keywords:
            return None
        if last in _SKLEARN_SHUFFLE_ONLY and "shuffle" not in call.keywords:
            return None
        if last in _SKLEARN_SAMPLE_ONLY and _SKLEARN_SAMPLE_ONLY[last] not in call.keywords:
            return None
        # random_state=None uses numpy's global RandomState, which np.random.seed seeds
        return RandomDraw(call, qualified, "numpy")
    return None


@dataclass(frozen=True)
class RandomCall:
    """One call as the unseeded-random scan sees it: a seed, a draw, or neither (a call the
    caller may follow, into a notebook function)."""

    call: CallSite
    qualified: str  #: the callee through the import bindings (``numpy.random.rand``)
    seeds: str | None  #: the seed family the call sets (``numpy``), if it is a seed call
    draw: RandomDraw | None  #: the draw, if it draws (never both ``seeds`` and ``draw``)


def random_calls(calls: Iterable[CallSite], imports: Mapping[str, ImportBinding]) -> Iterator[RandomCall]:
    """``calls`` in their order, each resolved and classified: the one scan for seeds and
    draws that the static hazards, notebook functions and ``%track``'s effects all read."""
    for call in calls:
        qualified = resolve_callee(call.callee, imports)
        family = is_seed_call(qualified)
        draw = classify_random_call(call, qualified) if family is None else None
        yield RandomCall(call, qualified, family, draw)
