"""Information estimators: arrays in, information in bits out.

Nothing here depends on models or runs. Every function takes NumPy arrays (or
anything ``numpy.asarray`` accepts), validates them once at the boundary and
returns bits unless its ``base`` argument sets another unit.
"""

from .binning import binned_information
from .continuous import (
    continuous_conditional_mutual_information,
    continuous_mutual_information,
    continuous_transfer_entropy,
)
from .discrete import (
    conditional_mutual_information,
    entropy,
    local_transfer_entropy,
    mutual_information,
    transfer_entropy,
)
from .kde import kde_information
from .pairwise import transfer_entropy_matrix
from .significance import (
    SignificanceResult,
    analytic_te_floor,
    analytic_te_p_value,
    benjamini_hochberg,
    surrogate_permutations,
    te_degrees_of_freedom,
    transfer_entropy_matrix_surrogates,
    transfer_entropy_significance,
)

__all__ = [
    "SignificanceResult",
    "analytic_te_floor",
    "analytic_te_p_value",
    "benjamini_hochberg",
    "binned_information",
    "conditional_mutual_information",
    "continuous_conditional_mutual_information",
    "continuous_mutual_information",
    "continuous_transfer_entropy",
    "entropy",
    "kde_information",
    "local_transfer_entropy",
    "mutual_information",
    "surrogate_permutations",
    "te_degrees_of_freedom",
    "transfer_entropy",
    "transfer_entropy_matrix",
    "transfer_entropy_matrix_surrogates",
    "transfer_entropy_significance",
]
