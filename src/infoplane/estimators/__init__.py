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
from .kde import kde_information

__all__ = [
    "binned_information",
    "continuous_conditional_mutual_information",
    "continuous_mutual_information",
    "continuous_transfer_entropy",
    "kde_information",
]
