"""Information estimators: arrays in, information in bits out.

Nothing here knows about models or runs. Every function takes NumPy arrays (or
anything ``numpy.asarray`` accepts), validates them once at the boundary and
returns bits unless its ``base`` argument says otherwise.
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

__all__ = [
    "binned_information",
    "conditional_mutual_information",
    "continuous_conditional_mutual_information",
    "continuous_mutual_information",
    "continuous_transfer_entropy",
    "entropy",
    "kde_information",
    "local_transfer_entropy",
    "mutual_information",
    "transfer_entropy",
    "transfer_entropy_matrix",
]
