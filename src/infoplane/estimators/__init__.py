"""Information estimators: arrays in, information in bits out.

Nothing here knows about models or runs. Every function takes NumPy arrays (or
anything ``numpy.asarray`` accepts), validates them once at the boundary and
returns bits unless its ``base`` argument says otherwise.
"""

from .binning import binned_information
from .discrete import (
    conditional_mutual_information,
    entropy,
    local_transfer_entropy,
    mutual_information,
    transfer_entropy,
)
from .pairwise import transfer_entropy_matrix

__all__ = [
    "binned_information",
    "conditional_mutual_information",
    "entropy",
    "local_transfer_entropy",
    "mutual_information",
    "transfer_entropy",
    "transfer_entropy_matrix",
]
