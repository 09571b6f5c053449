"""Regenerate the binary sample documents of the fictional Northwind Lanterns handbook.

Why this exists: orgtune must ingest PDF and DOCX files as well as Markdown, so the
sample handbook ships one of each. Binary files cannot be reviewed in a diff, so
their text lives here and the files are rebuilt from it:

    .venv/bin/python samples/build_samples.py

Output (next to this script):
    handbook/remote-work.pdf      2-page text PDF (fpdf2, core font Helvetica)
    handbook/travel-policy.docx   DOCX with Title / Heading 1 / Heading 2 styles and a table

Output is deterministic: fixed creation dates in the PDF metadata and DOCX core
properties, and fixed timestamps for the entries of the DOCX zip archive.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from docx import Document
from fpdf import FPDF
from fpdf.enums import XPos, YPos

HANDBOOK_DIR = Path(__file__).resolve().parent / "handbook"
PDF_PATH = HANDBOOK_DIR / "remote-work.pdf"
DOCX_PATH = HANDBOOK_DIR / "travel-policy.docx"

PDF_DATE = datetime(2025, 3, 1, 9, 0, 0, tzinfo=timezone.utc)
DOCX_DATE = datetime(2025, 4, 1, 9, 0, 0, tzinfo=timezone.utc)
COMPANY = "Northwind Lanterns"

# --------------------------------------------------------------------------
# Remote Work Policy (PDF). Latin-1 only: the core Helvetica font has no other glyphs.
# --------------------------------------------------------------------------

REMOTE_TITLE = "Northwind Lanterns - Remote Work Policy"
REMOTE_INTRO = (
    "Version 2.1, effective 1 March 2025. Owner: Priya Raman, Head of People. "
    "This policy explains who may work remotely, when everyone must be reachable, "
    "what the company pays for and how often remote colleagues travel to the "
    "Bristol office (The Lantern Works, 12 Quay Lane, Bristol)."
)

REMOTE_SECTIONS: list[tuple[str, list[str]]] = [
    (
        "1. Eligibility",
        [
            "All employees may work in a hybrid pattern once they have completed their "
            "first 4 weeks, which are spent in the Bristol office to get to know the team "
            "and the product.",
            "Fully remote work requires approval from your department head and is only "
            "available to employees who live more than 50 miles from Bristol. Workshop "
            "roles (prototype engineers and quality testers) must be on site at least "
            "3 days per week, because lantern prototypes cannot leave the workshop.",
        ],
    ),
    (
        "2. Core hours",
        [
            "Core hours are 10:00 to 15:00 UK time, Monday to Thursday, and 10:00 to "
            "13:00 UK time on Friday. During core hours everyone is expected to be "
            "reachable on Slack and available for meetings.",
            "Outside core hours you may organise your own time, as long as you work your "
            "contracted hours (a full-time working day is 7.5 hours). Keep your Slack "
            "status up to date and block focus time in your calendar.",
        ],
    ),
    (
        "3. Home office stipend",
        [
            "Every employee receives a one-off home office stipend of GBP 600 to buy a "
            "desk, an ergonomic chair, lighting or other equipment for working from home. "
            "The stipend must be claimed in Ledgerly within 90 days of your start date.",
            "A refresh stipend of GBP 300 is available every 3 years. In addition, all "
            "hybrid and remote employees receive an internet allowance of GBP 25 per "
            "month, paid with salary.",
        ],
    ),
    (
        "4. Co-working allowance",
        [
            "Fully remote employees may claim a co-working allowance of up to GBP 150 "
            "per month for a desk in a co-working space. Submit the monthly invoice in "
            'Ledgerly with the category "Co-working". Unused allowance does not roll '
            "over to the next month.",
        ],
    ),
    (
        "5. Travel to the office",
        [
            "Hybrid employees work from the office every Wednesday, which we call Anchor "
            "Wednesday: team meetings, demos and the monthly all-hands are scheduled on "
            "that day. Travel between home and the office is commuting and is not "
            "reimbursed.",
            "Fully remote employees travel to Bristol for Lantern Days, two-day company "
            "gatherings held 4 times per year, in February, May, September and November. "
            "The company pays train or flight tickets and up to 2 hotel nights per visit. "
            "Book all travel through Wayfarer, as described in the Travel Policy.",
        ],
    ),
    (
        "6. Working from abroad",
        [
            "You may work from another country for up to 20 working days per calendar "
            "year. Requests are made in Beacon at least 14 days in advance and must be "
            "approved by your line manager and the People team, who check tax and visa "
            "rules.",
        ],
    ),
    (
        "7. Security at home",
        [
            "The Information Security Policy applies everywhere. Use the company VPN, "
            "called Tunnel, on any public or shared Wi-Fi network. Documents classified "
            "Night or Blackout must never be printed at home, and your screen must not be "
            "visible to other people when you work in public places.",
        ],
    ),
    (
        "8. Review",
        [
            "This policy is reviewed every year in February by the People team. "
            "Questions go to people@northwindlanterns.example.",
        ],
    ),
]

# --------------------------------------------------------------------------
# Travel Policy (DOCX).
# --------------------------------------------------------------------------

TRAVEL_TITLE = "Northwind Lanterns Travel Policy"
TRAVEL_INTRO = (
    "Version 3.0, effective 1 April 2025. Owner: Helen Achebe, Finance Director. "
    "This policy applies to all business travel by employees and contractors, "
    "including visits to our field office in Nairobi and to Lantern Days in Bristol."
)

# Each section: (Heading 1, [(Heading 2 or None, [paragraphs])]).
TRAVEL_SECTIONS: list[tuple[str, list[tuple[str | None, list[str]]]]] = [
    (
        "1. Before you travel",
        [
            (
                "Approval",
                [
                    "Every trip needs approval before anything is booked. Domestic trips are "
                    "approved by your line manager. International trips are approved by your "
                    "department head and must be requested at least 21 days before departure.",
                ],
            ),
            (
                "Booking",
                [
                    "All flights, trains, hotels and rental cars are booked through Wayfarer, "
                    "our travel booking tool. Bookings made outside Wayfarer are only "
                    "reimbursed with written approval from Finance. Flights should be booked "
                    "at least 14 days in advance to keep fares low.",
                ],
            ),
        ],
    ),
    (
        "2. Class of travel",
        [
            (
                "Trains",
                [
                    "Train is mandatory for journeys that take less than 5 hours by train, "
                    "for example Bristol to London. Book standard class. First class is "
                    "allowed only when the journey is longer than 3 hours and the first-class "
                    "fare is less than GBP 30 more than standard class.",
                ],
            ),
            (
                "Flights",
                [
                    "Book economy class for flights shorter than 6 hours and premium economy "
                    "for flights of 6 hours or more. Business class is allowed only for "
                    "flights longer than 10 hours and requires approval from the Finance "
                    "Director. One checked bag per trip is covered.",
                ],
            ),
            (
                "Hotels and cars",
                [
                    "Hotels must stay within the nightly hotel cap in the table in section 3. "
                    "Rental cars are booked in the compact category; insurance is included in "
                    "the Wayfarer booking. Private cars are reimbursed at the mileage rate in "
                    "the Expense Policy (GBP 0.45 per mile).",
                ],
            ),
        ],
    ),
    (
        "3. Per diems",
        [
            (
                None,
                [
                    "A per diem is a fixed daily allowance that covers meals, local transport "
                    "and small incidental costs while travelling, so no individual meal "
                    "receipts are needed. Claim it in Ledgerly after the trip. For travel days "
                    "shorter than 10 hours, 50% of the per diem applies.",
                ],
            ),
        ],
    ),
    (
        "4. During and after the trip",
        [
            (
                "Insurance and emergencies",
                [
                    "All business travellers are covered by our travel insurer, Harbourline "
                    "Assist (policy number NWL-TRV-2025). In an emergency, call the "
                    "Harbourline Assist 24/7 line on +44 117 496 0815.",
                ],
            ),
            (
                "Weekend travel",
                [
                    "If business travel takes place on a Saturday or Sunday, you receive 1 day "
                    "off in lieu for each weekend day spent travelling, to be taken within "
                    "2 months.",
                ],
            ),
            (
                "Claiming expenses",
                [
                    "Submit per diems and other travel costs in Ledgerly within 30 days of "
                    "returning, in line with the Expense Policy.",
                ],
            ),
        ],
    ),
]

PER_DIEM_HEADER = ("City", "Per diem (GBP per day)", "Hotel cap (GBP per night)")
PER_DIEM_ROWS: list[tuple[str, str, str]] = [
    ("London", "60", "220"),
    ("Berlin", "50", "170"),
    ("Nairobi", "40", "140"),
    ("Mumbai", "35", "120"),
    ("New York", "75", "300"),
    ("Other cities", "45", "160"),
]
PER_DIEM_AFTER_SECTION = "3. Per diems"


# --------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------


def _check_latin1(texts: list[str]) -> None:
    for text in texts:
        text.encode("latin-1")  # raises UnicodeEncodeError on unsupported characters


def _pdf_line(pdf: FPDF, text: str, size: float, style: str = "", gap: float = 2.0) -> None:
    pdf.set_font("Helvetica", style=style, size=size)
    pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(gap)


def build_pdf(path: Path) -> None:
    """Write the Remote Work Policy as a text PDF with numbered headings."""
    _check_latin1([REMOTE_TITLE, REMOTE_INTRO] + [t for head, paras in REMOTE_SECTIONS for t in [head, *paras]])
    pdf = FPDF(format="A4")
    pdf.set_creation_date(PDF_DATE)
    pdf.set_title(REMOTE_TITLE)
    pdf.set_author(COMPANY)
    pdf.set_subject("Remote Work Policy")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    _pdf_line(pdf, REMOTE_TITLE, 18, "B", gap=4)
    _pdf_line(pdf, REMOTE_INTRO, 11, gap=4)
    for heading, paragraphs in REMOTE_SECTIONS:
        _pdf_line(pdf, heading, 14, "B")
        for paragraph in paragraphs:
            _pdf_line(pdf, paragraph, 11, gap=3)
    pdf.output(str(path))


# --------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------


def _add_per_diem_table(doc: Document) -> None:
    table = doc.add_table(rows=1, cols=len(PER_DIEM_HEADER))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, PER_DIEM_HEADER, strict=True):
        cell.text = text
    for row in PER_DIEM_ROWS:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text


def _set_core_properties(doc: Document) -> None:
    props = doc.core_properties
    props.title = TRAVEL_TITLE
    props.author = COMPANY
    props.last_modified_by = COMPANY
    props.subject = "Travel Policy"
    props.revision = 1
    # python-docx stores naive datetimes as UTC.
    props.created = DOCX_DATE.replace(tzinfo=None)
    props.modified = DOCX_DATE.replace(tzinfo=None)
    props.last_printed = DOCX_DATE.replace(tzinfo=None)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite the archive with fixed entry timestamps so rebuilds are byte-identical."""
    stamp = DOCX_DATE.timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def build_docx(path: Path) -> None:
    """Write the Travel Policy with Title/Heading styles and a per-diem table."""
    doc = Document()
    doc.add_paragraph(TRAVEL_TITLE, style="Title")
    doc.add_paragraph(TRAVEL_INTRO)
    for heading, subsections in TRAVEL_SECTIONS:
        doc.add_heading(heading, level=1)
        for subheading, paragraphs in subsections:
            if subheading:
                doc.add_heading(subheading, level=2)
            for paragraph in paragraphs:
                doc.add_paragraph(paragraph)
        if heading == PER_DIEM_AFTER_SECTION:
            _add_per_diem_table(doc)
    _set_core_properties(doc)
    buffer = io.BytesIO()
    doc.save(buffer)
    path.write_bytes(_normalise_zip(buffer.getvalue()))


def main() -> None:
    HANDBOOK_DIR.mkdir(parents=True, exist_ok=True)
    build_pdf(PDF_PATH)
    build_docx(DOCX_PATH)
    for path in (PDF_PATH, DOCX_PATH):
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
