"""Every person in their own language: which language they get, switching it mid-check,
CLDR formats, messages sent unasked, `assess` and the terminal in another language, and the
checks that make adding a language a matter of files, each problem naming file and key.

The other language here is a test-only one (tests/locale_support.py): English in
look-alike letters, so any plain English word the bot shows in it came from code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from bot.core import locales
from bot.core.app import Core, build_core
from bot.core.clock import LocalTime, ZoneAliases, parse_zone
from bot.core.events import ChooseLanguage, Event, Press, Start
from bot.core.records import Snapshot
from bot.core.replies import Reply
from bot.reports.service import ReportMaker
from bot.storage import open_storage
from tests.locale_support import PSEUDO_NAME, content_with_pseudo_language, english_words, pseudo
from tests.plan_support import TYPICAL, World, fire_session, move_to_next
from tests.support import ROOT, FakeClock, content_problems, edit_yaml
from tests.test_summary_pdf import page_text


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pseudo")
    content_with_pseudo_language(root)
    return root


@pytest.fixture(scope="module")
def core(tree: Path) -> Core:
    return build_core(tree / "content", tree / "flows", offer_reminders=True)


def shown(replies: list[Reply]) -> str:
    """Everything a person sees of some replies: titles, texts and button labels."""
    parts = []
    for reply in replies:
        parts += [reply.title or "", reply.text, *(button.label for button in reply.all_buttons)]
    return "\n".join(parts)


# ---------------------------------------------------------------- which language


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("de", "de"),
        ("de-AT", "de"),
        ("DE_ch", "de"),
        ("pt", "pt_BR"),
        ("pt-PT", "pt_BR"),
        ("es-419", "es"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_a_language_tag_picks_the_closest_language_present(tag: str | None, expected: str) -> None:
    assert locales.pick(tag, ("en", "de", "es", "pt_BR"), "en") == expected


def test_the_languages_present_are_the_messages_files(core: Core) -> None:
    # English first; the test language beside any real translation the content ships.
    assert core.content.languages[0] == "en" and "de" in core.content.languages
    assert core.content.in_language("de-AT").language == "de"
    assert core.content.in_language("fr") is core.content  # the default, English


# ---------------------------------------------------------------- formats by CLDR


def test_dates_times_numbers_weekdays_and_plurals_come_from_cldr(core: Core) -> None:
    english, german = core.content.messages, core.content.in_language("de").messages
    assert (english.time(datetime(2026, 12, 7, 7, 30)), german.time(datetime(2026, 12, 7, 7, 30))) == (
        "07:30",
        "07:30",
    )
    assert (english.date(date(2026, 12, 7)), german.date(date(2026, 12, 7))) == ("7 Dec 2026", "07.12.2026")
    assert (english.day_month(date(2026, 12, 7)), german.day_month(date(2026, 12, 7))) == ("7 Dec", "7. Dez.")
    assert (english.text("day.mon"), german.text("day.mon")) == ("Mon", "Mo")
    assert (english.join(["A", "B", "C"]), german.join(["A", "B", "C"])) == ("A, B and C", "A, B und C")
    assert (english.number(2.5), german.number(2.5), german.number(1500)) == ("2.5", "2,5", "1.500")
    assert (english.plural("dose.repetitions", 1), english.plural("dose.repetitions", 3)) == (
        "once",
        "3 times",
    )
    assert german.plural("dose.repetitions", 1) == pseudo("once")
    assert (english.zone("Asia/Kolkata"), german.zone("Asia/Kolkata"), german.zone("Etc/GMT-2")) == (
        "Kolkata",
        "Kalkutta",
        "UTC+02:00",
    )


def test_time_words_and_place_names_are_each_languages_own(core: Core) -> None:
    english, german = core.content.zone_aliases, core.content.in_language("de").zone_aliases
    assert english.words.noon == ("noon", "midday")  # from content/clock/en.yaml
    assert parse_zone("Pacific time", english) == parse_zone("pacific", english) is not None
    bare = ZoneAliases(english.aliases, english.ambiguous)  # the same names, no language's words
    assert parse_zone("Pacific time", bare) is None
    assert LocalTime.parse("noon", bare.words) is None and LocalTime.parse("noon", german.words) is not None
    english_file = yaml.safe_load((ROOT / "content/messages/en.yaml").read_text(encoding="utf-8"))
    assert "day" not in english_file  # weekday names are CLDR's


# ---------------------------------------------------------------- one step, one language


def step(core: Core, snapshot: Snapshot, event: Event, language: str) -> tuple[Snapshot, list[Reply], str]:
    outcome = core.engine.step(snapshot, event, None, datetime.now(UTC), language=language)
    return outcome.snapshot, outcome.replies, outcome.language or language


def test_switching_language_mid_check_keeps_every_answer_and_asks_again(core: Core) -> None:
    snapshot, replies, language = step(core, Snapshot(), Start(), "de")
    assert not english_words(shown(replies))
    for token in ("y", "t1", "ok", "none"):  # consent, front of the hip, Done, spreads nowhere
        snapshot, replies, language = step(core, snapshot, Press(f"{snapshot.step}:{token}"), language)
    assert snapshot.state == "sitting"
    before = snapshot
    snapshot, replies, language = step(core, snapshot, ChooseLanguage(), language)
    [menu] = replies
    labels = [button.label for button in menu.all_buttons]
    assert labels[0] == "English" and f"✓ {PSEUDO_NAME}" in labels
    snapshot, replies, language = step(core, snapshot, Press(menu.all_buttons[0].data), language)
    assert language == "en" and snapshot == before  # nothing of the check changed
    assert replies[0].text == "Done: I'll write in English from now on."
    assert replies[-1].text == "How does sitting affect it?"
    snapshot, replies, language = step(core, snapshot, Press(replies[-1].all_buttons[0].data), language)
    assert snapshot.state == "duration" and snapshot.answers["pain_location"] == ["hip_front"]
    assert "How long have you had this pain?" in replies[-1].text


def test_a_language_button_for_a_language_not_present_changes_nothing(core: Core) -> None:
    outcome = core.engine.step(Snapshot(), Press("lang:fr"), None, language="en")
    assert outcome.rejected and outcome.language is None and not outcome.replies


# ---------------------------------------------------------------- sent unasked


async def test_reminders_and_check_ins_arrive_in_the_persons_language(core: Core, tmp_path: Path) -> None:
    storage = await open_storage(str(tmp_path / "bot.db"))
    try:
        world = World(core, storage, FakeClock(datetime(2026, 3, 2, 8, tzinfo=UTC)))
        await world.send(Start())
        await storage.write(
            lambda tx: tx.users.set_language(tx.users.find("telegram", world.user) or 0, "de")
        )
        await world._answer_through_service(TYPICAL)  # typed as in English: the same words
        for token in ("rem", "o0", "ok", "o0"):  # reminders: London, the suggested days, 07:30
            await world.send(Press(f"{await world.step()}:{token}"))
        card_id = await fire_session(world)
        cards = await world.rows("SELECT payload FROM outbox WHERE payload LIKE '%r:" + str(card_id) + ":%'")
        card = json.loads(cards[-1][0])
        assert "⏰" in card["text"] and not english_words(card["text"] + card["title"]), card
        assert not english_words(" ".join(label for row in card["buttons"] for _, label, _ in row))
        await world.press_plan(card["buttons"][1][0][0])  # Done: a check-in tomorrow morning
        await move_to_next(world, "day_after_checkin")
        await world.scheduler.tick()
        sent = await world.new_messages()  # the next morning's reminder comes first, at 07:30
        checkin = next(m for m in sent if m["buttons"][0][0][0].startswith("c:"))
        assert checkin["text"].endswith(pseudo("(the worst you can imagine)?")), checkin["text"]
        [worst] = await world.press_plan(checkin["buttons"][0][3][0])  # pain now 3
        await world.press_plan(worst["buttons"][0][4][0])  # the worst in 24 hours, 4
        reports = ReportMaker(core.content, storage, world.clock, core.plan_rules)
        progress = await reports.progress("telegram", world.user)
        summary = await reports.summary("telegram", world.user)
        assert progress is not None and summary is not None
        assert progress[1].startswith(pseudo("Pain now 3/10, down from 4/10")), progress[1]
        assert summary.message.startswith(pseudo("Here is a one-page summary")), summary.message
        page = page_text(summary.pdf)  # the PDF as a reader's viewer shows it
        assert pseudo("Pain self-report from psoasbot") in page and pseudo("Where it hurts") in page
        assert "{" not in page + summary.message and "\ufffd" not in page  # every letter in the font
        assert "Dez." in page or "Mär" in page  # its dates are CLDR's German ones
        city = core.content.in_language("de").messages.zone("Europe/London")  # CLDR's name for London
        page = page.replace(city, "").replace(" und ", " ")  # and CLDR's German "and" in a list
        assert not english_words(progress[1] + summary.message + page), page
    finally:
        await storage.close()


# ---------------------------------------------------------------- psoasbot assess, psoasbot chat


def run_bot(tree: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    import os

    environment = {
        **os.environ,
        "PSOASBOT_CONTENT_DIR": str(tree / "content"),
        "PSOASBOT_FLOWS_DIR": str(tree / "flows"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tree,
        timeout=60,
        env=environment,
    )


def test_assess_answers_in_the_language_asked_for(tree: Path) -> None:
    answers = {"pain_location": ["hip_front"], "pain_now": 3, "age": 30, "sex": "F"}
    done = run_bot(tree, "assess", stdin=json.dumps({**answers, "language": "de-AT"}))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["urgency"] == "SELF_CARE" and not english_words(result["message"])
    plain = json.loads(run_bot(tree, "assess", stdin=json.dumps(answers)).stdout)
    assert {key: value for key, value in plain.items() if key != "message"} == {
        key: value for key, value in result.items() if key != "message"
    }
    refused = run_bot(tree, "assess", stdin=json.dumps({**answers, "language": "fr"}))
    assert refused.returncode == 2 and "language: 'fr'" in refused.stderr


def test_the_terminal_chat_in_another_language(tree: Path) -> None:
    done = run_bot(tree, "chat", "--db", str(tree / "c.db"), "--language", "de", stdin="1\n/quit\n")
    assert done.returncode == 0, done.stderr
    assert pseudo("Where do you feel the pain?") in done.stdout
    assert pseudo('(type the numbers of all that apply, for example "1,3")') in done.stdout
    assert pseudo("Bye!") in done.stdout
    assert not english_words(done.stdout.replace("> ", ""))
    unknown = run_bot(tree, "chat", "--db", str(tree / "c.db"), "--language", "fr", stdin="")
    assert unknown.returncode == 2 and "no language 'fr'" in unknown.stderr


def test_validate_lists_the_languages(tree: Path) -> None:
    done = run_bot(tree, "validate")
    assert done.returncode == 0, done.stderr
    assert "languages en, " in done.stdout and "de" in done.stdout.split("languages ")[1]


# ---------------------------------------------------------------- validation, file and key


@pytest.fixture()
def broken(tmp_path: Path) -> Path:
    content_with_pseudo_language(tmp_path)
    return tmp_path


def edit_german(tree: Path, change, name: str = "de.yaml") -> None:
    edit_yaml(tree / "content" / "messages" / name, change)


problems = content_problems


def test_a_missing_translation_names_the_file_and_key(broken: Path) -> None:
    edit_german(broken, lambda d: d["bot"].pop("greeting"))
    assert "content/messages/de.yaml: bot.greeting: missing (in en.yaml)" in problems(broken)


def test_a_key_english_does_not_have_is_named(broken: Path) -> None:
    edit_german(broken, lambda d: d["bot"].__setitem__("greting", "Hallo"))
    assert any(
        p.startswith("content/messages/de.yaml: bot.greting: not in en.yaml") for p in problems(broken)
    )


def test_a_placeholder_mismatch_names_the_file_and_key(broken: Path) -> None:
    edit_german(broken, lambda d: d["routine_view"].__setitem__("heading", "Ihre Übungen: {nmae}"))
    found = problems(broken)
    assert (
        "content/messages/de.yaml: routine_view.heading: placeholders differ from en.yaml: "
        "lacks {name}; has {nmae}, which en.yaml does not"
    ) in found


def test_html_in_a_message_is_refused_with_file_and_key(broken: Path) -> None:
    edit_german(broken, lambda d: d["bot"].__setitem__("declined", "<b>Gut</b. Schreiben Sie /check."))
    [found] = [p for p in problems(broken) if "bot.declined" in p]
    assert found.startswith("content/messages/de.yaml: bot.declined: HTML markup '<b>'")


def test_a_broken_placeholder_is_refused_with_file_and_key(broken: Path) -> None:
    edit_german(broken, lambda d: d["reminders"].__setitem__("time_changed", "Jetzt um {time."))
    assert any(
        p.startswith("content/messages/de.yaml: reminders.time_changed: broken placeholder")
        for p in problems(broken)
    )


def test_a_broken_placeholder_in_a_button_label_is_reported_not_a_crash(broken: Path) -> None:
    edit_german(broken, lambda d: d["plan"]["button"].__setitem__("snooze", "⏰ {minuten} Min."))
    assert any(
        p.startswith("content/messages/de.yaml: plan.button.snooze: placeholders differ")
        for p in problems(broken)
    )


def test_a_button_label_too_long_for_a_phone_names_the_file_and_key(broken: Path) -> None:
    edit_german(
        broken, lambda d: d["plan"]["button"].__setitem__("skip", "Heute bitte einmal auslassen, danke")
    )
    assert (
        "content/messages/de.yaml: plan.button.skip: button label 'Heute bitte einmal auslassen, danke' "
        "has 35 characters; at most 30 fit on a phone"
    ) in problems(broken)


def test_a_setting_translated_instead_of_chosen_is_refused(broken: Path) -> None:
    edit_german(broken, lambda d: d["language"].__setitem__("labels_in_lists", "klein"))
    assert (
        "content/messages/de.yaml: language.labels_in_lists: must be one of ['lower', 'keep'], not 'klein'"
    ) in problems(broken)


def test_a_plural_form_the_language_needs_is_asked_for(broken: Path) -> None:
    # Polish says 2 and 5 differently ("few" and "many"): English's one/other are not enough.
    messages = broken / "content" / "messages"
    (messages / "de.yaml").rename(messages / "pl.yaml")
    (messages / "de.terminal.yaml").rename(messages / "pl.terminal.yaml")
    (broken / "content" / "clock" / "de.yaml").rename(broken / "content" / "clock" / "pl.yaml")
    found = problems(broken)
    assert (
        "content/messages/pl.yaml: dose.repetitions.few: missing (this language's plural rules use the 'few' form)"
        in found
    )
    assert (
        "content/messages/pl.yaml: dose.repetitions.many: missing (this language's plural rules use the 'many' form)"
        in found
    )


def test_a_language_cldr_does_not_know_is_refused(broken: Path) -> None:
    messages = broken / "content" / "messages"
    (messages / "de.yaml").rename(messages / "xx.yaml")
    assert any(
        p.startswith("content/messages/xx.yaml: 'xx' is not a language CLDR knows") for p in problems(broken)
    )


def test_each_language_words_the_terminal_and_names_its_places(broken: Path) -> None:
    (broken / "content" / "messages" / "de.terminal.yaml").unlink()
    (broken / "content" / "clock" / "de.yaml").unlink()
    found = problems(broken)
    assert "content/messages/de.terminal.yaml: file is missing (en.terminal.yaml has it)" in found
    assert any(p.startswith("content/clock/de.yaml: file is missing") for p in found)


def test_a_terminal_sentence_missing_in_one_language_is_named(broken: Path) -> None:
    edit_german(broken, lambda d: d["terminal"].pop("bye"), name="de.terminal.yaml")
    found = problems(broken)
    assert (
        "content/messages/de.terminal.yaml: terminal.bye: missing message (needed by the terminal chat)"
        in found
    )


def test_the_default_language_must_be_present(broken: Path) -> None:
    assert any(
        p.startswith("content/messages/it.yaml: file is missing: PSOASBOT_LANGUAGE is 'it'")
        for p in problems(broken, "it")
    )


def test_every_problem_of_every_language_is_reported_at_once(broken: Path) -> None:
    edit_german(
        broken, lambda d: (d["bot"].pop("greeting"), d["common"].__setitem__("back", "<i>zurück</i>"))
    )
    found = [p for p in problems(broken) if p.startswith("content/messages/de.yaml")]
    assert len(found) == 2


def test_a_default_language_other_than_english_speaks_it_to_everyone_unknown(tree: Path) -> None:
    german = build_core(tree / "content", tree / "flows", "de")
    assert german.content.language == "de" and german.content.pick_language("fr") == "de"
    replies = german.engine.step(Snapshot(), Start(), None).replies
    assert not english_words(shown(replies))
