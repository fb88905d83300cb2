"""Accepted talks into workshop sessions: known answers for each grouping rule."""

from __future__ import annotations

import random

from sessions.schedule.grouping import Talk, group_talks, workshop_key


def talk(
    id_: str,
    minutes: int = 20,
    themes: tuple[str, ...] = ("education",),
    speakers: tuple[str, ...] | None = None,
    stars: int = 0,
    fmt: str = "talk",
) -> Talk:
    return Talk(id_, f"Talk {id_}", fmt, minutes, themes, speakers or (f"{id_}@example.org",), stars)


def by_talks(workshops: list) -> dict[tuple[str, ...], object]:
    return {tuple(sorted(t.id for t in w.talks)): w for w in workshops}


def test_three_twenty_minute_talks_on_one_theme_fill_a_slot() -> None:
    made = group_talks([talk("a", stars=5), talk("b", stars=9), talk("c", stars=1)], slot_minutes=60)
    assert len(made) == 1
    w = made[0]
    assert [t.id for t in w.talks] == ["b", "a", "c"]  # running order: most starred first
    assert (w.kind, w.slot_count, w.minutes) == ("group", 1, 60)
    assert w.title == "Education: Talk b and 2 more"
    assert w.key == workshop_key(["c", "a", "b"])
    assert set(w.speakers) == {"a@example.org", "b@example.org", "c@example.org"}


def test_long_formats_stand_alone_and_span_slots() -> None:
    made = by_talks(
        group_talks(
            [talk("w", 120, fmt="workshop"), talk("p", 60, fmt="panel"), talk("t", 90)], slot_minutes=60
        )
    )
    assert {k: (w.kind, w.slot_count) for k, w in made.items()} == {  # type: ignore[attr-defined]
        ("w",): ("single", 2),
        ("p",): ("single", 1),
        ("t",): ("single", 2),
    }


def test_one_speaker_is_never_twice_in_a_session() -> None:
    made = group_talks(
        [
            talk("a", speakers=("x@a.org",), stars=3),
            talk("b", speakers=("x@a.org", "y@b.org"), stars=2),
            talk("c", stars=1),
        ],
        slot_minutes=60,
    )
    groups = sorted(tuple(sorted(t.id for t in w.talks)) for w in made)
    assert groups == [("a", "c"), ("b",)]


def test_first_fit_by_popularity_within_a_theme() -> None:
    # 30, 30, 20, 20 minutes by popularity: [30, 30] fills a slot; [20, 20] is left part-empty.
    talks = [talk("a", 30, stars=9), talk("b", 30, stars=8), talk("c", 20, stars=7), talk("d", 20, stars=6)]
    assert sorted(by_talks(group_talks(talks, slot_minutes=60))) == [("a", "b"), ("c", "d")]
    # 30, 20, 30, 20: first fit puts the 20 beside the first 30, the next 30 opens a second session.
    talks = [talk("a", 30, stars=9), talk("c", 20, stars=8), talk("b", 30, stars=7), talk("d", 20, stars=6)]
    assert sorted(by_talks(group_talks(talks, slot_minutes=60))) == [("a", "c"), ("b", "d")]


def test_leftovers_merge_with_the_closest_theme() -> None:
    talks = [
        talk("e1", 40, ("education",)),
        talk("o1", 20, ("online safety",)),
        talk("v1", 20, ("evaluation",)),
    ]
    # Delegates who starred education also starred evaluation (not online safety): evaluation is closer.
    stars = [frozenset({"e1", "v1"})] * 3 + [frozenset({"o1"})]
    assert sorted(by_talks(group_talks(talks, slot_minutes=60, star_sets=stars))) == [("e1", "v1"), ("o1",)]
    # A shared secondary theme beats co-starring.
    talks[1] = talk("o1", 20, ("online safety", "education"))
    assert sorted(by_talks(group_talks(talks, slot_minutes=60, star_sets=stars))) == [("e1", "o1"), ("v1",)]


def test_audience_is_the_delegates_who_starred_any_talk_scaled_and_unavailability_is_the_union() -> None:
    stars = [frozenset({"a"}), frozenset({"a", "b"}), frozenset({"b"}), frozenset({"z"})]
    unavailable = {"a@example.org": frozenset({1}), "b@example.org": frozenset({3, 4})}
    [w] = group_talks(
        [talk("a"), talk("b")], slot_minutes=60, star_sets=stars, scale=2.5, unavailable=unavailable
    )
    assert (w.stars, w.audience) == (3, 8)  # ceil(3 x 2.5)
    assert w.unavailable == frozenset({1, 3, 4})


def test_published_groups_are_kept_while_their_talks_remain() -> None:
    talks = [talk("a", stars=9), talk("b", stars=8), talk("c", stars=7), talk("d", stars=1)]
    fresh = sorted(by_talks(group_talks(talks, slot_minutes=60)))
    assert fresh == [("a", "b", "c"), ("d",)]
    kept = sorted(by_talks(group_talks(talks, slot_minutes=60, keep=[["a", "d"], ["b", "x"]])))
    assert kept == [("a", "d"), ("b", "c")]  # [b, x]: x dropped out, so b is regrouped


def test_the_same_talks_give_the_same_sessions_in_any_order() -> None:
    rng = random.Random(3)
    themes = ["education", "evaluation", "online safety"]
    talks = [
        talk(f"t{i}", rng.choice((20, 30, 40, 60, 120)), (rng.choice(themes),), stars=rng.randint(0, 20))
        for i in range(30)
    ]
    first = [(w.key, w.title) for w in group_talks(talks, slot_minutes=60)]
    rng.shuffle(talks)
    assert [(w.key, w.title) for w in group_talks(talks, slot_minutes=60)] == first
    made = group_talks(talks, slot_minutes=60)
    assert sorted(t.id for w in made for t in w.talks) == sorted(
        t.id for t in talks
    )  # every talk exactly once
    assert all(w.minutes <= 60 for w in made if w.kind == "group")
