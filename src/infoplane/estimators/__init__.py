"""Information estimators: arrays in, information in bits out.

Nothing here knows about models or runs. Every function takes NumPy arrays (or
anything ``numpy.asarray`` accepts), validates them once at the boundary and
returns bits unless its ``base`` argument says otherwise.
"""

from infoplane.estimators.discrete import (
    conditional_mutual_information,
    entropy,
    local_transfer_entropy,
    mutual_information,
    transfer_entropy,
)
from infoplane.estimators.pairwise import transfer_entropy_matrix
from infoplane.estimators.significance import (
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
    "conditional_mutual_information",
    "entropy",
    "local_transfer_entropy",
    "mutual_information",
    "surrogate_permutations",
    "te_degrees_of_freedom",
    "transfer_entropy",
    "transfer_entropy_matrix",
    "transfer_entropy_matrix_surrogates",
    "transfer_entropy_significance",
]
