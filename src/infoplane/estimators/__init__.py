"""Information estimators: arrays in, information in bits out.

Nothing here knows about models or runs. Every function takes NumPy arrays (or
anything ``numpy.asarray`` accepts), validates them once at the boundary and
returns bits unless its ``base`` argument says otherwise.
"""

from .binning import binned_information
from .kde import kde_information

__all__ = ["binned_information", "kde_information"]
