"""Forget sets: ids, display names, members and the stability of a random draw."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearning_comparator.forget_sets import ForgetSet, forget_sets_of

NAMES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]
LABELS = np.repeat(np.arange(10), 50)  # 500 training images, 50 per class


def test_ids_and_display_names_of_the_three_kinds():
    coat = ForgetSet.of_classes(4)
    pair = ForgetSet.of_classes([8, 4])
    sample = ForgetSet.random_fraction(0.1, 1)
    assert (coat.id, coat.kind, coat.display_name(NAMES)) == ("fc4", "class", "Coat")
    # the classes are sorted, so the id does not depend on the order the config lists them in
    assert (pair.id, pair.kind, pair.display_name(NAMES)) == ("fc4_8", "classes", "Coat + Bag")
    assert (sample.id, sample.kind, sample.display_name(NAMES)) == (
        "rnd10s1",
        "random",
        "random 10 % · seed 1",
    )
    assert ForgetSet.random_fraction(0.025, 0).id == "rnd2.5s0"
    assert ForgetSet.random_fraction(0.07, 3).id == "rnd7s3"  # 0.07 * 100 is 7.000000000000001 in floats
    assert ForgetSet.of_classes(4, name="Winter coats").display_name(NAMES) == "Winter coats"


def test_only_a_single_class_has_a_forget_class():
    assert ForgetSet.of_classes(4).forget_class == 4
    assert ForgetSet.of_classes([4, 8]).forget_class is None
    assert ForgetSet.random_fraction(0.1, 0).forget_class is None
    assert ForgetSet.of_classes([4, 8]).is_class_wise and not ForgetSet.random_fraction(0.1, 0).is_class_wise


def test_class_wise_members_and_test_counterpart():
    pair = ForgetSet.of_classes([4, 8])
    mask = pair.train_mask(torch.as_tensor(LABELS))
    assert mask.dtype == bool and mask.sum() == 100
    assert set(LABELS[mask]) == {4, 8}
    test_labels = np.array([4, 8, 0, 4, 9])
    assert pair.test_mask(test_labels).tolist() == [True, True, False, True, False]


def test_a_random_draw_is_its_fraction_across_classes_and_has_no_test_counterpart():
    sample = ForgetSet.random_fraction(0.1, 1)
    mask = sample.train_mask(LABELS)
    assert mask.sum() == 50
    assert len(set(LABELS[mask])) >= 8  # drawn across the classes, not from one
    assert not sample.test_mask(np.arange(10)).any()


def test_a_random_draw_depends_on_its_seed_only():
    first = ForgetSet.random_fraction(0.1, 1).train_mask(LABELS)
    again = ForgetSet.random_fraction(0.1, 1).train_mask(LABELS[::-1].copy())  # labels play no part
    other = ForgetSet.random_fraction(0.1, 2).train_mask(LABELS)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_the_draw_of_a_fixed_seed_is_pinned():
    """A change of generator would silently change every random experiment's members: pin one draw."""
    members = np.flatnonzero(ForgetSet.random_fraction(0.01, 0).train_mask(np.zeros(1000)))
    assert members.tolist() == [16, 40, 75, 175, 268, 306, 507, 631, 813, 842]


def test_json_round_trip_and_split_masks():
    for forget_set in (
        ForgetSet.of_classes(4),
        ForgetSet.of_classes([2, 4]),
        ForgetSet.random_fraction(0.2, 5),
    ):
        assert ForgetSet.from_json(forget_set.to_json()) == forget_set
    masks = ForgetSet.of_classes(4).split_masks(LABELS, np.array([4, 1]))
    assert masks["train"].dtype == torch.bool and int(masks["train"].sum()) == 50
    assert masks["test"].tolist() == [True, False]


@pytest.mark.parametrize(
    "build",
    [
        lambda: ForgetSet("random", (), 1.0, 0),
        lambda: ForgetSet("random", (), 0.0, 0),
        lambda: ForgetSet("random", (), float("nan"), 0),
        lambda: ForgetSet("classes", (4,)),
        lambda: ForgetSet("class", (8, 4)),
        lambda: ForgetSet("class", ()),
        lambda: ForgetSet("subset", (1,)),
    ],
)
def test_malformed_sets_are_refused(build):
    with pytest.raises(ValueError):
        build()


def test_a_draw_that_would_empty_or_fill_the_set_is_refused():
    with pytest.raises(ValueError, match="at least one image"):
        ForgetSet.random_fraction(0.001, 0).train_mask(np.zeros(100))


def test_config_shorthand_comes_first_and_random_sets_default_to_the_experiment_seed():
    config = {"seed": 7, "forget_classes": [4], "forget_sets": [{"classes": [8, 4]}, {"random": 0.1}]}
    assert [s.id for s in forget_sets_of(config)] == ["fc4", "fc4_8", "rnd10s7"]
