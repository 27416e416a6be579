"""The one-page PDF summary: what a physio or doctor reads, in any of the bot's languages.

Documents here have the shape `/summary` fills in (answers, every red-flag answer,
the triage result, plan changes, sessions that hurt, check-ins with the chart, the
trend), from nearly empty to far larger than a real history. Every PDF is read back
with pypdf: the text a reader can copy, the page count, the fonts and the images.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from bot.core.messages import Messages, flatten
from bot.reports.chart import PainPoint, SessionMark, render_progress_chart
from bot.reports.pdf import Figure, Row, Section, SummaryDocument, Table, render_summary_pdf

ROOT = Path(__file__).resolve().parent.parent

# --- Documents of the shape /summary builds -------------------------------------------------

FLAGS_EN = (
    "Numb around bottom or genitals",
    "New bladder or bowel trouble",
    "Symptoms in both legs",
    "A leg getting weaker",
    "Pulsing feeling in belly",
    "Sudden, severe pain",
    "Fainting or feeling faint",
    "Hernia hard or won't go back",
    "Fever or feeling unwell",
    "Began after a fall or injury",
    "Can't put weight on the leg",
    "Limping, or standing hurts",
    "Numbness in one leg",
    "Constant pain at night",
    "Losing weight without trying",
    "Had cancer",
    "Weakened immune system",
    "Injecting drugs",
    "New lump in the groin",
    "Hip clicks, locks or gives way",
)
FLAGS_DE = (
    "Taubheit um Gesäß oder Genitalien",
    "Neue Blasen- oder Darmprobleme",
    "Beschwerden in beiden Beinen",
    "Ein Bein wird schwächer",
    "Pulsieren im Bauch",
    "Plötzlicher, heftiger Schmerz",
    "Ohnmacht oder Schwächegefühl",
    "Bruch hart, lässt sich nicht zurückschieben",
    "Fieber oder Krankheitsgefühl",
    "Begann nach Sturz oder Unfall",
    "Bein nicht belastbar",
    "Hinken, oder Stehen tut weh",
    "Taubheit in einem Bein",
    "Ständiger Schmerz nachts",
    "Gewichtsverlust ohne Absicht",
    "Frühere Krebserkrankung",
    "Geschwächtes Immunsystem",
    "Spritzen von Drogen",
    "Neuer Knoten in der Leiste",
    "Hüfte klickt, blockiert oder gibt nach",
)
OWN_WORDS_EN = (
    "It started after a long drive to my sister's – about six hours without a proper break. "
    "Since then getting up from the sofa is the worst moment: the first few steps I can't "
    "stand straight and it pulls deep in the groin on the right. Walking eases it after ten "
    "minutes or so. Lying on my back with the knees bent helps. I work at a desk all day "
    "and I notice it most in the afternoon. No numbness. I tried ibuprofen for three days, "
    "which took the edge off. I'd like to know whether stretching is safe or whether I "
    "should rest it until it settles, and whether I should see someone about it."
)
OWN_WORDS_DE = (
    "Es fing nach einer langen Autofahrt an – etwa sechs Stunden ohne richtige Pause. "
    "Seitdem ist das Aufstehen vom Sofa der schlimmste Moment: Die ersten Schritte kann ich "
    "nicht gerade stehen, und es zieht tief in der rechten Leiste. Gehen macht es nach etwa "
    "zehn Minuten besser. Auf dem Rücken liegen mit angewinkelten Knien hilft. Ich arbeite "
    "den ganzen Tag am Schreibtisch und merke es vor allem nachmittags. Keine Taubheit. "
    "Ibuprofen drei Tage lang hat es etwas gelindert. Ist Dehnen sicher, oder soll ich es "
    "schonen, bis es sich beruhigt? Muss ich damit zu jemandem gehen?"
)
REASONS_EN = (
    "Pain in the groin and front of the hip that is worse on getting up from sitting fits a tight hip flexor (psoas).",
    "No answer suggested nerve compression, infection, fracture or a problem in the abdomen.",
    "Pain has lasted 3 to 6 weeks without getting better on its own.",
    "Age 30 to 49 with no history of cancer.",
)


def _flag_value(index: int, language: str) -> tuple[str, bool]:
    """Mostly "no", one "yes" (index 11), one "not sure" (16), one "not asked" (18)."""
    words = {
        "en": ("no", "yes", "not sure", "not asked"),
        "de": ("nein", "ja", "unsicher", "nicht gefragt"),
        "es": ("no", "sí", "no está seguro", "no preguntado"),
    }[language]
    if index == 11:
        return words[1], True
    if index == 16:
        return words[2], False
    if index == 18:
        return words[3], False
    return words[0], False


def _checkin_rows(count: int) -> tuple[tuple[str, ...], ...]:
    """Oldest first, one every other day, ending 2026-12-03."""
    last = date(2026, 12, 3)
    rows = []
    for back in range(count - 1, -1, -1):
        day = last - timedelta(days=2 * back)
        now = 3 + (back % 5)
        rows.append((f"{day.isoformat()} 08:{back % 60:02d}", f"{now}/10", f"{now + 2}/10", f"{now - 6:+d}"))
    return tuple(rows)


def _plan_rows(count: int) -> tuple[tuple[str, ...], ...]:
    changes = (
        ("Started: gentle psoas release, hip flexor stretch", "First symptom check: routine self-care"),
        (
            "Eased: ball release removed",
            "A session hurt in the groin (6/10) and had not settled after 2 hours",
        ),
        ("Paused for a professional", "Worse at two check-ins in a row"),
        ("Resumed after review", "Seen by a physiotherapist, who agreed to continue"),
        ("Next step: standing lunge stretch added", "Pain at or below 3/10 for two weeks"),
    )
    rows = []
    for index in range(count):
        change, reason = changes[index % len(changes)]
        rows.append(((date(2026, 9, 1) + timedelta(days=4 * index)).isoformat(), change, reason))
    return tuple(rows)


def _hurt_rows(count: int) -> tuple[tuple[str, ...], ...]:
    return tuple(
        (
            (date(2026, 10, 1) + timedelta(days=3 * index)).isoformat(),
            ("Psoas release with a ball", "Kneeling hip flexor stretch", "Supine march")[index % 3],
            ("Groin", "Lower back", "Front of the thigh")[index % 3],
            f"{5 + index % 3}/10",
            ("yes, within 2 hours", "no", "not reported")[index % 3],
        )
        for index in range(count)
    )


def _left_out(what: str) -> Callable[[int], str]:
    return lambda count: f"{count} earlier {what} not shown."


def english_document(
    *,
    checkins: int = 16,
    plan: int = 4,
    hurt: int = 2,
    chart: bytes | None = None,
    own_words: str = OWN_WORDS_EN,
) -> SummaryDocument:
    """A document in English with as many table rows as asked for."""
    answers = (
        Row("Age", "30 to 49"),
        Row("Sex", "Woman"),
        Row("How long", "3 to 6 weeks"),
        Row("Pain now", "6/10"),
        Row("Where", "Lower back, Groin"),
        Row("Spreads to", "Front of the thigh"),
        Row("Worse when sitting", "yes"),
        Row("Worse getting up", "yes"),
        Row("Activity", "Mostly sitting, walks daily"),
        Row("Seen a professional", "no"),
        Row("In their own words", own_words),
    )
    flags = tuple(Row(label, *_flag_value(index, "en")) for index, label in enumerate(FLAGS_EN))
    sections = [
        Section("Answers as given", rows=answers, columns=2),
        Section("Red-flag questions", rows=flags, columns=3),
        Section(
            "Result of the symptom check",
            rows=(Row("Urgency", "Self-care, with a routine; see a professional if it gets worse"),),
            bullets=REASONS_EN,
        ),
        Section(
            "Routine and plan changes",
            rows=(Row("Routine", "Gentle psoas release and hip flexor stretch, 10 minutes daily"),),
            table=Table(("Date", "Change", "Reason"), _plan_rows(plan), _left_out("plan changes")),
        ),
        Section(
            "Sessions",
            paragraphs=(
                f"{3 * hurt + 11} sessions done, {hurt} that hurt, 3 skipped (2026-10-01 to 2026-12-03).",
            ),
            table=Table(
                ("Date", "Exercise", "Where it hurt", "Pain", "Settled"),
                _hurt_rows(hurt),
                _left_out("sessions that hurt"),
            )
            if hurt
            else None,
        ),
        Section(
            "Pain check-ins",
            table=Table(
                ("Date", "Pain now", "Worst in 24 h", "vs. start"),
                _checkin_rows(checkins),
                _left_out("check-ins"),
            ),
            figure=Figure(chart, "Pain now (line) and worst in 24 h (dashed); band: start ± 2")
            if chart
            else None,
        ),
        Section(
            "Trend",
            paragraphs=(
                "A change of 2 points or more on the 0-10 scale, kept for two check-ins in a row, "
                "counts as meaningful.",
                "Pain went from 7/10 at the start to 4/10 at the latest check-in: a meaningful improvement.",
            ),
        ),
    ]
    return SummaryDocument(
        title="Pain self-report: deep low-back, hip and groin pain",
        subtitle="Patient-reported, generated 2026-12-04 18:30 (Europe/Berlin)",
        sections=tuple(sections),
        footer="Patient-reported information from a self-help bot. Not a diagnosis. "
        "Answers are shown exactly as the person gave them.",
    )


def german_document(*, chart: bytes | None, checkins: int = 30) -> SummaryDocument:
    answers = (
        Row("Alter", "30 bis 49"),
        Row("Geschlecht", "Frau"),
        Row("Seit wann", "3 bis 6 Wochen"),
        Row("Schmerz jetzt", "6/10"),
        Row("Wo", "Unterer Rücken, Leiste"),
        Row("Strahlt aus in", "Vorderseite des Oberschenkels"),
        Row("Schlimmer im Sitzen", "ja"),
        Row("Schlimmer beim Aufstehen", "ja"),
        Row("In eigenen Worten", OWN_WORDS_DE),
    )
    flags = tuple(Row(label, *_flag_value(index, "de")) for index, label in enumerate(FLAGS_DE))
    return SummaryDocument(
        title="Schmerz-Selbstauskunft: tiefer Rücken-, Hüft- und Leistenschmerz",
        subtitle="Selbst berichtet, erstellt am 04.12.2026 um 18:30 (Europe/Berlin)",
        sections=(
            Section("Antworten, wie gegeben", rows=answers, columns=2),
            Section("Fragen nach Warnzeichen", rows=flags, columns=3),
            Section(
                "Ergebnis der Symptomprüfung",
                rows=(
                    Row(
                        "Dringlichkeit",
                        "Selbsthilfe mit Übungsprogramm; bei Verschlechterung ärztlich abklären",
                    ),
                ),
                bullets=(
                    "Schmerz in Leiste und vorderer Hüfte, schlimmer beim Aufstehen aus dem Sitzen, "
                    "passt zu einem verkürzten Hüftbeuger (Psoas).",
                    "Keine Antwort deutete auf Nervenkompression, Infektion, Bruch oder ein Problem im Bauch hin.",
                    "Schmerz besteht seit 3 bis 6 Wochen, ohne von selbst besser zu werden.",
                ),
            ),
            Section(
                "Übungsprogramm und Planänderungen",
                rows=(Row("Programm", "Sanfte Psoas-Lösung und Hüftbeuger-Dehnung, täglich 10 Minuten"),),
                table=Table(
                    ("Datum", "Änderung", "Grund"),
                    (
                        ("01.09.2026", "Begonnen: Psoas-Lösung, Hüftbeuger-Dehnung", "Erste Symptomprüfung"),
                        (
                            "05.09.2026",
                            "Erleichtert: Ball-Lösung entfernt",
                            "Eine Übung tat in der Leiste weh (6/10)",
                        ),
                        (
                            "30.09.2026",
                            "Nächster Schritt: Ausfallschritt-Dehnung",
                            "Schmerz ≤ 3/10 seit zwei Wochen",
                        ),
                    ),
                    lambda count: f"{count} frühere Änderungen nicht gezeigt.",
                ),
            ),
            Section(
                "Übungseinheiten",
                paragraphs=("14 Einheiten gemacht, davon 2 schmerzhaft; 3 ausgelassen.",),
                table=Table(
                    ("Datum", "Übung", "Wo", "Schmerz", "Abgeklungen"),
                    (
                        ("05.09.2026", "Psoas-Lösung mit Ball", "Leiste", "6/10", "ja, nach 2 Stunden"),
                        ("19.10.2026", "Hüftbeuger-Dehnung kniend", "Unterer Rücken", "5/10", "nein"),
                    ),
                    lambda count: f"{count} frühere schmerzhafte Einheiten nicht gezeigt.",
                ),
            ),
            Section(
                "Schmerz-Check-ins",
                table=Table(
                    ("Datum", "Schmerz jetzt", "Schlimmster in 24 h", "ggü. Beginn"),
                    _checkin_rows(checkins),
                    lambda count: f"{count} frühere Check-ins nicht gezeigt.",
                ),
                figure=Figure(chart, "Schmerz jetzt (Linie) und schlimmster in 24 h (gestrichelt)")
                if chart
                else None,
            ),
            Section(
                "Verlauf",
                paragraphs=(
                    "Eine Änderung um mindestens 2 Punkte auf der Skala 0–10, über zwei Check-ins "
                    "hinweg, gilt als bedeutsam.",
                    "Der Schmerz ging von 7/10 zu Beginn auf 4/10 zurück: eine bedeutsame Besserung.",
                ),
            ),
        ),
        footer="Selbst berichtete Angaben aus einem Selbsthilfe-Bot. Keine Diagnose.",
        language="de",
    )


def small_document() -> SummaryDocument:
    """Someone who answered the questions and has no routine or check-ins yet."""
    return SummaryDocument(
        title="Pain self-report",
        subtitle="Patient-reported, generated 2026-12-04 18:30 (UTC)",
        sections=(
            Section("Answers as given", rows=(Row("Age", "30 to 49"), Row("Pain now", "6/10")), columns=2),
            Section("Red-flag questions", rows=(Row(FLAGS_EN[0], "no"), Row(FLAGS_EN[1], "no")), columns=3),
            Section("Pain check-ins", paragraphs=("No pain check-ins recorded yet.",)),
        ),
        footer="Patient-reported information from a self-help bot. Not a diagnosis.",
    )


# --- Reading the PDF back -------------------------------------------------------------------


def read(pdf: bytes) -> PdfReader:
    return PdfReader(BytesIO(pdf))


def page_text(pdf: bytes) -> str:
    """The page's text with every run of whitespace as one space, so wrapped lines read on."""
    return " ".join(read(pdf).pages[0].extract_text().split())


def bold_text(pdf: bytes) -> str:
    """The text drawn in the bold font, whitespace normalised as in `page_text`."""
    found: list[str] = []

    def visit(text: str, _cm: object, _tm: object, font: object, _size: object) -> None:
        if isinstance(font, dict) and "Bold" in str(font.get("/BaseFont", "")) and text.strip():
            found.append(text.strip())

    read(pdf).pages[0].extract_text(visitor_text=visit)
    return " ".join(" ".join(found).split())


def text_heights(pdf: bytes) -> list[tuple[float, str]]:
    """Each piece of text with the height of its baseline above the bottom edge, in points."""
    found: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: object, _size: object) -> None:
        if text.strip():
            found.append((tm[5] * cm[3] + cm[5], text.strip()))

    read(pdf).pages[0].extract_text(visitor_text=visit)
    return found


@pytest.fixture(scope="module")
def chart() -> bytes:
    """The real progress chart, as /summary embeds it."""
    with (ROOT / "content" / "messages" / "en.yaml").open(encoding="utf-8") as handle:
        messages = Messages("en", flatten(yaml.safe_load(handle), "en.yaml"))
    start = datetime(2026, 10, 1, 8, tzinfo=UTC)
    points = [PainPoint(start + timedelta(days=2 * day), 7 - day // 6, 8 - day // 6) for day in range(30)]
    sessions = [SessionMark(start + timedelta(days=day, hours=10), "done") for day in range(0, 60, 3)]
    return render_progress_chart(points, sessions, 7, "Europe/Berlin", messages)


# --- One page, whatever the size ------------------------------------------------------------


@pytest.mark.parametrize(
    ("checkins", "plan", "hurt"),
    [(0, 0, 0), (1, 1, 1), (16, 4, 2), (40, 10, 6), (400, 60, 80)],
    ids=["empty-tables", "one-row-each", "typical", "large", "huge"],
)
def test_always_exactly_one_a4_page(chart: bytes, checkins: int, plan: int, hurt: int) -> None:
    pdf = render_summary_pdf(english_document(checkins=checkins, plan=plan, hurt=hurt, chart=chart))
    reader = read(pdf)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points


@pytest.mark.parametrize(
    ("checkins", "plan", "hurt"), [(16, 4, 2), (40, 10, 6), (400, 60, 80)], ids=["typical", "large", "huge"]
)
def test_nothing_runs_into_the_footer_or_off_the_page(
    chart: bytes, checkins: int, plan: int, hurt: int
) -> None:
    document = english_document(checkins=checkins, plan=plan, hurt=hurt, chart=chart)
    pieces = text_heights(render_summary_pdf(document))
    in_footer = [len(text) > 20 and text in document.footer for _, text in pieces]
    footer = [height for (height, _), inside in zip(pieces, in_footer, strict=True) if inside]
    body = [height for (height, _), inside in zip(pieces, in_footer, strict=True) if not inside]
    assert footer, "the footer is on the page"
    assert min(footer) >= 20  # inside the bottom margin (about 7 mm), not cut off
    assert min(body) > max(footer) + 14  # the lowest line of content is well above the footer's rule
    assert max(height for height, _ in pieces) < 842 - 30  # and the title is below the top margin


def test_a_small_document_is_one_page_with_everything_in_it() -> None:
    pdf = render_summary_pdf(small_document())
    assert len(read(pdf).pages) == 1
    text = page_text(pdf)
    for expected in (
        "Pain self-report",
        "Answers as given",
        "30 to 49",
        FLAGS_EN[1],
        "No pain check-ins recorded yet.",
    ):
        assert expected in text
    assert "not shown" not in text
    assert not read(pdf).pages[0].images


# --- What the reader sees -------------------------------------------------------------------


def test_every_heading_and_answer_is_on_the_page(chart: bytes) -> None:
    document = english_document(chart=chart)
    text = page_text(render_summary_pdf(document))
    for section in document.sections:
        assert section.heading in text
    for expected in ("30 to 49", "3 to 6 weeks", "6/10", "Lower back, Groin", "Front of the thigh"):
        assert expected in text
    assert "deep in the groin on the right" in text  # the person's own words, wrapped, not cut
    assert "should see someone about it." in text
    for reason in REASONS_EN:
        assert reason.split()[-1] in text
    assert document.footer.split(".")[0] in text
    for row in _plan_rows(4) + _hurt_rows(2):  # a typical history keeps every plan change and hurt
        assert " ".join(row) in text
    assert "earlier plan changes" not in text and "earlier sessions" not in text


def test_every_red_flag_answer_is_on_the_page_and_a_yes_is_bold(chart: bytes) -> None:
    for document in (
        english_document(chart=chart),
        english_document(checkins=500, plan=80, hurt=80, chart=chart),
    ):
        pdf = render_summary_pdf(document)
        text = page_text(pdf)
        for label in FLAGS_EN:
            assert label in text
        bold = bold_text(pdf)
        assert "Limping, or standing hurts yes" in bold  # answered yes: label and answer
        assert "Had cancer" not in bold and "not sure" not in bold
        assert "not sure" in text and "not asked" in text


def test_a_huge_history_keeps_the_latest_check_ins_and_says_how_many_are_left_out(chart: bytes) -> None:
    document = english_document(checkins=400, plan=60, hurt=80, chart=chart)
    pdf = render_summary_pdf(document)
    text = page_text(pdf)
    for section in document.sections:
        assert section.heading in text
    checkins = _checkin_rows(400)
    assert checkins[-1][0] in text  # the latest check-in
    assert checkins[0][0] not in text  # the first of 400 could not fit
    shown = sum(1 for row in checkins if row[0] in text)
    assert shown >= 4
    assert f"{400 - shown} earlier check-ins not shown." in text
    plan = _plan_rows(60)
    plan_shown = sum(1 for row in plan if row[0] in text)
    assert plan[-1][0] in text
    assert f"{60 - plan_shown} earlier plan changes not shown." in text
    assert "earlier sessions that hurt not shown." in text
    assert len(read(pdf).pages[0].images) == 1  # the chart stays, smaller if need be


def test_the_longest_table_is_cut_first() -> None:
    """Without a chart beside it, the check-in table gives up rows and the shorter tables keep theirs."""
    text = page_text(render_summary_pdf(english_document(checkins=120, plan=7, hurt=5)))
    assert "earlier check-ins not shown." in text
    assert "earlier plan changes" not in text and "earlier sessions that hurt" not in text
    for row in _plan_rows(7) + _hurt_rows(5):
        assert " ".join(row) in text


def test_rows_cut_from_the_start_can_be_kept_from_the_start_instead(chart: bytes) -> None:
    document = english_document(checkins=200, chart=chart)
    sections = list(document.sections)
    checkins = sections[5]
    assert checkins.table is not None
    sections[5] = replace(checkins, table=replace(checkins.table, keep="first"))
    text = page_text(render_summary_pdf(replace(document, sections=tuple(sections))))
    rows = _checkin_rows(200)
    assert rows[0][0] in text
    assert rows[-1][0] not in text


def test_a_table_note_is_always_printed() -> None:
    section = Section(
        "Sessions",
        table=Table(
            ("Date", "Exercise"),
            (("2026-12-01", "Supine march"),),
            _left_out("rows"),
            note="Times are local.",
        ),
    )
    text = page_text(render_summary_pdf(replace(small_document(), sections=(section,))))
    assert "Times are local." in text and "Supine march" in text


def test_the_chart_is_embedded_once_with_its_caption(chart: bytes) -> None:
    pdf = render_summary_pdf(english_document(chart=chart))
    images = read(pdf).pages[0].images
    assert len(images) == 1
    assert images[0].image is not None and images[0].image.size[0] >= 800
    assert "band: start ± 2" in page_text(pdf)


def test_a_figure_alone_in_its_section_is_drawn(chart: bytes) -> None:
    section = Section("Pain over time", figure=Figure(chart, "Pain over time"))
    pdf = render_summary_pdf(replace(small_document(), sections=(section,)))
    assert len(read(pdf).pages[0].images) == 1


def test_the_title_is_the_document_title() -> None:
    pdf = render_summary_pdf(small_document())
    assert read(pdf).metadata is not None
    assert read(pdf).metadata.title == "Pain self-report"


# --- Languages ------------------------------------------------------------------------------


def test_german_text_with_umlauts_and_eszett_renders(chart: bytes) -> None:
    document = german_document(chart=chart)
    pdf = render_summary_pdf(document)
    assert len(read(pdf).pages) == 1
    text = page_text(pdf)
    for section in document.sections:
        assert section.heading in text
    for expected in (
        "Taubheit um Gesäß oder Genitalien",
        "Übungsprogramm",
        "Rücken",
        "Schmerz ≤ 3/10",
        "0–10",
    ):
        assert expected in text
    assert "Hinken, oder Stehen tut weh ja" in bold_text(pdf)


def test_spanish_punctuation_and_typography_render() -> None:
    sentences = (
        "¿Le duele al levantarse de la silla? Sí, sobre todo por la mañana.",
        "¡Consulte a un profesional si empeora!",
        "Dolor “profundo” en la ingle – empeora al estar sentado ≥ 2 h • ± 1 punto ✓",
        "It’s the person’s own wording.",
    )
    document = SummaryDocument(
        title="Autoinforme de dolor",
        subtitle="Informado por el paciente, generado el 04/12/2026",
        sections=(
            Section("Respuestas tal como se dieron", rows=(Row("Año", "30 a 49"),), paragraphs=sentences),
        ),
        footer="Información del propio paciente. No es un diagnóstico.",
        language="es",
    )
    text = page_text(render_summary_pdf(document))
    for sentence in (*sentences, "Año", "Respuestas tal como se dieron"):
        assert sentence in text


def test_a_character_the_font_lacks_is_replaced_and_nothing_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A character DejaVu Sans lacks, in someone's own words: drawn as U+FFFD, and the typed text
    never reaches a log (fpdf2 would log the missing glyphs). DejaVu does have the common emoji."""
    document = english_document(
        own_words="Hurts a lot \u75db when I stand up \u200b from the sofa \U0001f62b"
    )
    with caplog.at_level(logging.DEBUG):
        text = page_text(render_summary_pdf(document))
    assert "Hurts a lot \ufffd when I stand up from the sofa \U0001f62b" in text
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


# --- Text that does not fit its column wraps --------------------------------------------------


def test_long_values_wrap_instead_of_being_cut() -> None:
    long_value = " ".join(f"word{index}" for index in range(120))
    long_cell = "Eased after a session hurt: " + " ".join(f"detail{index}" for index in range(40))
    document = SummaryDocument(
        title="Pain self-report",
        subtitle="generated 2026-12-04",
        sections=(
            Section(
                "Answers as given",
                rows=(Row("Age", "30 to 49"), Row("In their own words", long_value)),
                columns=2,
            ),
            Section(
                "Routine and plan changes",
                table=Table(
                    ("Date", "Change", "Reason"),
                    (("2026-12-01", long_cell, "Donaudampfschifffahrtsgesellschaft" * 3),),
                    _left_out("rows"),
                ),
            ),
        ),
        footer="Not a diagnosis.",
    )
    text = page_text(render_summary_pdf(document))
    assert "word0" in text and "word119" in text
    assert "detail39" in text
    assert "Donaudampfschifffahrtsgesellschaft".lower()[:10] in text.lower()


def test_even_an_absurd_document_stays_on_one_page_with_every_heading_and_row() -> None:
    """Far beyond any summary: the page gives way (smaller type, shortened text), never a second page."""
    paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 60
    document = english_document(checkins=1000, plan=300, hurt=300, own_words=paragraph)
    sections = tuple(
        replace(
            section,
            paragraphs=(*section.paragraphs, paragraph),
            bullets=(*section.bullets, paragraph, paragraph),
        )
        for section in document.sections
    )
    pdf = render_summary_pdf(replace(document, sections=sections))
    assert len(read(pdf).pages) == 1
    text = page_text(pdf)
    for section in sections:
        assert section.heading in text
    for label in FLAGS_EN:
        assert label in text
    assert "…" in text


# --- The record refuses what it cannot draw ---------------------------------------------------


def test_a_table_row_with_the_wrong_number_of_cells_is_refused() -> None:
    with pytest.raises(ValueError, match="row 1 has 2 cells but there are 3 columns"):
        Table(("a", "b", "c"), (("1", "2", "3"), ("1", "2")), _left_out("rows"))


def test_a_figure_that_is_not_a_png_is_refused() -> None:
    with pytest.raises(ValueError, match="PNG"):
        Figure(b"\xff\xd8\xff\xe0 a jpeg")


def test_rows_in_more_columns_than_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="1 to 4 columns"):
        Section("Answers", rows=(Row("Age", "30 to 49"),), columns=6)
