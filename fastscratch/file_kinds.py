"""What a file is, by its first bytes: for errors about a file passed where another kind belongs
(a ``.npy`` given as a checkpoint, a checkpoint given to ``load_params``)."""

# first bytes -> what a file starting with them is
KINDS = {b"\x93NUMPY": "a .npy file (one NumPy array)",
         b"PK\x03\x04": "a zip file (an .npz or a fastscratch checkpoint)",
         b"PK\x05\x06": "an empty zip file",
         b"\x80": "a pickle",
         b"\x1f\x8b": "a gzip file"}


def kind_of(head):
    """What the file whose first bytes are ``head`` is, or None when none of KINDS."""
    return next((what for magic, what in KINDS.items() if head.startswith(magic)), None)
