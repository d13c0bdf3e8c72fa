"""The reading keys are applied in order, each once, and a reloaded page starts its numbering again."""

from __future__ import annotations

from ecgreview.ui.keys import apply_keys


def _apply(log, last_applied=0, cursor=0):
    calls = {}
    applied, cursor = apply_keys(log, last_applied=last_applied, cursor=cursor,
                                 set_call=lambda index, call: calls.__setitem__(index, call))
    return applied, cursor, calls


def test_keys_apply_in_order_and_advance_the_class():
    log = [[1, "3"], [2, "p"], [3, "a"], [4, "u"]]
    assert _apply(log) == (4, 5, {2: "present", 3: "absent", 4: "uncertain"})


def test_keys_already_applied_are_not_applied_again():
    log = [[1, "p"], [2, "a"], [3, "a"]]
    assert _apply(log, last_applied=2, cursor=2) == (3, 3, {2: "absent"})


def test_a_reloaded_page_numbers_from_one_again():
    assert _apply([[1, "p"]], last_applied=7, cursor=4) == (1, 5, {4: "present"})


def test_the_cursor_wraps_after_the_last_class():
    assert _apply([[1, "6"], [2, "a"]]) == (2, 0, {5: "absent"})


def test_an_older_copy_of_the_same_page_s_log_applies_nothing():
    calls = {}
    old_log = [[1, "1"], *([seq, "a"] for seq in range(2, 8))]  # keys 1..7, already applied
    assert apply_keys(old_log, last_applied=9, cursor=5, same_page=True,
                      set_call=lambda index, call: calls.__setitem__(index, call)) == (9, 5)
    assert calls == {}  # not the old "absent" calls again over the newer ones


def test_save_comes_after_the_calls_pressed_before_it_and_once():
    events = []
    log = [[1, "1"], *([seq, "a"] for seq in range(2, 8)), [8, "c4"], [9, "s"], [10, "n"]]
    applied, cursor = apply_keys(log, last_applied=0, cursor=0,
                                 set_call=lambda index, call: events.append(("call", index, call)),
                                 set_confidence=lambda level: events.append(("confidence", level)),
                                 on_action=lambda seq, action: events.append(("action", seq, action)))
    assert applied == 10 and cursor == 0
    assert events == [*(("call", index, "absent") for index in range(6)), ("confidence", 4),
                      ("action", 9, "save"), ("action", 10, "next")]
    again = []
    apply_keys(log, last_applied=applied, cursor=cursor, same_page=True, set_call=lambda *_: again.append(_),
               on_action=lambda *args: again.append(args))
    assert again == []  # the same S is never handed over twice


def test_confidence_and_action_keys_are_ignored_where_the_page_takes_none():
    assert _apply([[1, "c3"], [2, "s"], [3, "p"]]) == (3, 1, {0: "present"})
