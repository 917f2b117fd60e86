"""validation.py's checks of scalar and sequence arguments: TypeError for the wrong kind of
value, ValueError for a value of the right kind that is out of range, each naming the argument;
what passes comes back (ints as int, sequences as tuples)."""
import numpy as np
import pytest

from fastscratch import validation

REJECTED = [
    (lambda: validation.positive_int("n", "3"), TypeError, r"n must be a positive int, got str"),
    (lambda: validation.positive_int("n", 2.0), TypeError, r"n must be a positive int, got float"),
    (lambda: validation.positive_int("n", True), TypeError, r"n must be a positive int, got bool"),
    (lambda: validation.positive_int("n", 0), ValueError, r"n must be a positive int, got int 0"),
    (lambda: validation.positive_int("pad", -1, least=0), ValueError, r"pad must be an int >= 0"),
    (lambda: validation.positive_int("k", "1", none_ok=True), TypeError,
     r"k must be a positive int or None"),
    (lambda: validation.nonnegative("lr", "0.1"), TypeError, r"lr must be a finite number >= 0"),
    (lambda: validation.nonnegative("lr", np.nan), ValueError, r"lr must be a finite number"),
    (lambda: validation.nonnegative("lr", -1e-3), ValueError, r"lr must be a finite number >= 0"),
    (lambda: validation.fraction("p", None), TypeError, r"p must be a number in \[0, 1\)"),
    (lambda: validation.fraction("p", 1), ValueError, r"p must be a number in \[0, 1\), got 1"),
    (lambda: validation.positive("std", "he"), TypeError, r"std must be a finite number > 0"),
    (lambda: validation.positive("std", 0.0), ValueError, r"std must be a finite number > 0"),
    (lambda: validation.positive("t", -1, none_ok=True), ValueError, r"t must be a finite "
                                                                     r"number > 0 or None"),
    (lambda: validation.flag("bn", "yes"), TypeError, r"bn must be True or False, got str"),
    (lambda: validation.distinct("u", 5, validation.positive_int), TypeError,
     r"u must be a sequence, got int"),
    (lambda: validation.distinct("u", "ab", validation.flag), TypeError, r"u must be a sequence"),
    (lambda: validation.distinct("u", (), validation.positive_int), ValueError,
     r"u must be a non-empty sequence of distinct values, got \(\)"),
    (lambda: validation.distinct("u", (3, 3), validation.positive_int), ValueError,
     r"distinct values, got \(3, 3\)"),
    (lambda: validation.distinct("u", (3, 0), validation.positive_int), ValueError,
     r"u\[1\] must be a positive int, got int 0"),
]


@pytest.mark.parametrize("call,error,message", REJECTED)
def test_a_wrong_kind_is_a_type_error_and_a_wrong_value_a_value_error(call, error, message):
    with pytest.raises(error, match=message) as caught:
        call()
    assert type(caught.value) is error


def test_accepted_values_come_back_normalised():
    assert validation.positive_int("n", np.int64(3)) == 3 and \
        type(validation.positive_int("n", np.int64(3))) is int
    assert validation.positive_int("k", None, none_ok=True) is None
    assert validation.positive("t", None, none_ok=True) is None
    assert validation.positive("std", 0.01) == 0.01 and validation.fraction("p", 0) == 0
    assert validation.flag("bn", np.True_) is True
    assert validation.distinct("u", [2, np.int64(5)], validation.positive_int) == (2, 5)
    assert validation.is_real(np.float32(1)) and validation.is_real(3)
    assert not validation.is_real(True) and not validation.is_real("1")
