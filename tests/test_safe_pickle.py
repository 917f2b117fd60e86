"""safe_pickle reads pickled dicts/lists of NumPy arrays at every protocol and refuses anything
else before it is imported or called."""
import io
import os
import pickle

import numpy as np
import pytest

from fastscratch import safe_pickle


def _sample():
    rng = np.random.default_rng(0)
    return {"W1": rng.standard_normal((3, 1, 5, 5)), "b1": np.zeros(3, np.float32),
            "rows": [np.arange(4, dtype=np.int64), (1, 2.5, "text", b"raw")],
            "fortran": np.asfortranarray(rng.standard_normal((2, 3)))}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_protocol_round_trips(protocol):
    data = _sample()
    loaded = safe_pickle.loads(pickle.dumps(data, protocol=protocol))
    assert list(loaded) == list(data)
    for key in ("W1", "b1", "fortran"):
        assert loaded[key].dtype == data[key].dtype
        np.testing.assert_array_equal(loaded[key], data[key])
        assert loaded[key].flags.writeable
    np.testing.assert_array_equal(loaded["rows"][0], data["rows"][0])
    assert loaded["rows"][1] == data["rows"][1]


def test_load_reads_a_file_object(tmp_path):
    path = tmp_path / "params.pkl"
    with open(path, "wb") as f:
        pickle.dump({"W": np.eye(2)}, f)
    with open(path, "rb") as f:
        np.testing.assert_array_equal(safe_pickle.load(f)["W"], np.eye(2))


class _Shell:
    """Pickles as a call of os.system: plain pickle.load would run the command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _Eval:
    def __reduce__(self):
        return eval, ("1 + 1",)


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_code_in_the_pickle_is_refused_and_not_run(tmp_path, protocol):
    marker = tmp_path / "ran"
    payload = pickle.dumps({"W1": np.ones(2), "b1": _Shell(f"touch {marker}")},
                           protocol=protocol)
    with pytest.raises(safe_pickle.UnsafePickleError, match=r"refusing to load (posix|nt)\."
                                                            r"system: this file may hold only"):
        safe_pickle.loads(payload)
    assert not marker.exists()
    with pytest.raises(safe_pickle.UnsafePickleError, match=r"(builtins|__builtin__)\.eval"):
        safe_pickle.loads(pickle.dumps([_Eval()], protocol=protocol))


def test_unsafe_pickle_error_is_an_unpickling_error():
    assert issubclass(safe_pickle.UnsafePickleError, pickle.UnpicklingError)


def test_object_arrays_are_refused():
    with pytest.raises(safe_pickle.UnsafePickleError, match="dtype object"):
        safe_pickle.loads(pickle.dumps({"W": np.array([1, "a"], dtype=object)}))


def test_codecs_encode_only_with_latin1():
    # protocol 2 stores bytes as _codecs.encode(text, 'latin1'); another codec is refused
    payload = b"\x80\x02c_codecs\nencode\nq\x00X\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(safe_pickle.UnsafePickleError, match="'latin1' only"):
        safe_pickle.load(io.BytesIO(payload))


def test_persistent_ids_are_refused():
    buffer = io.BytesIO()

    class Persisting(pickle.Pickler):
        def persistent_id(self, obj):
            return "outside" if isinstance(obj, str) else None

    Persisting(buffer).dump(["a"])
    with pytest.raises(safe_pickle.UnsafePickleError, match="persistent id"):
        safe_pickle.loads(buffer.getvalue())
