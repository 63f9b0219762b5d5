"""Writes the small h5py fixtures SynapseH5Tests reads (h5py 3.7, numpy 1.24; run from this folder).

Values: image[i] = i / 128 (flat C-order index i), label[i] = i % 9, shape (3, 5, 7).
"""
import h5py
import numpy as np

shape = (3, 5, 7)
index = np.arange(np.prod(shape)).reshape(shape)
image = (index / 128).astype(np.float32)
label = (index % 9).astype(np.float32)

# SAMed-style gzip (h5py default level 4), chunked by h5py's own choice.
with h5py.File("gzip.npy.h5", "w") as f:
    f.create_dataset("image", data=image, compression="gzip")
    f.create_dataset("label", data=label, compression="gzip")

# gzip with byte shuffle and explicit per-slice chunks; label stored as uint8, image as float64.
with h5py.File("gzip_shuffle_types.npy.h5", "w") as f:
    f.create_dataset("image", data=image.astype(np.float64), compression="gzip", compression_opts=9, shuffle=True, chunks=(1, 5, 7))
    f.create_dataset("label", data=label.astype(np.uint8), compression="gzip", shuffle=True, chunks=(1, 5, 7))

# Label only: the image dataset is missing.
with h5py.File("no_image.npy.h5", "w") as f:
    f.create_dataset("label", data=label)
