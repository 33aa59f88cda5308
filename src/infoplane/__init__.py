"""infoplane: information planes of neural networks while they train.

Transfer entropy (TE) and mutual information (MI) between layers, per recorded
epoch, in bits. See the README for the measures and the command line.
"""

__version__ = "0.1.0"
