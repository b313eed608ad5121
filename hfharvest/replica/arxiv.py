"""The arXiv API's Atom feeds, laid out as export.arxiv.org answers an id_list query."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from xml.sax.saxutils import escape, quoteattr

from .messages import ATOM_TYPE, Response
from .snapshot import iso_timestamp

# arXiv identifiers: new style `1810.04805` and old style `hep-th/9901001`, optionally versioned.
ARXIV_ID = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")
ARXIV_DEFAULT_MAX_RESULTS = 10  # the arXiv API's default page size


def arxiv_feed(raw_query: str, id_list: list, start: int, size: int, total: int, page) -> str:
    """An Atom feed laid out as export.arxiv.org answers an id_list query (2026 format)."""
    ids = ",".join(id_list)
    query = f"search_query=&id_list={ids}&start={start}&max_results={size}"
    feed_id = base64.urlsafe_b64encode(hashlib.sha1(raw_query.encode()).digest()).decode()
    link = (
        f"https://arxiv.org/api/query?search_query=&start={start}&max_results={size}&id_list={ids}"
    )
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">',
        f"  <id>https://arxiv.org/api/{feed_id.rstrip('=')}</id>",
        f"  <title>arXiv Query: {escape(query)}</title>",
        f"  <updated>{_arxiv_now()}</updated>",
        f'  <link href={quoteattr(link)} type="application/atom+xml"/>',
        f"  <opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>",
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>",
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>",
    ]
    for record in page:
        lines += _arxiv_entry(record)
    lines.append("</feed>")
    return "\n".join(lines) + "\n"


def _arxiv_entry(record: dict) -> list[str]:
    versioned = f"{record['id']}v{record.get('version', 1)}"
    lines = [
        "  <entry>",
        f"    <id>http://arxiv.org/abs/{versioned}</id>",
        f"    <title>{escape(record['title'])}</title>",
        f"    <updated>{record['updated']}</updated>",
        f'    <link href="https://arxiv.org/abs/{versioned}" rel="alternate" type="text/html"/>',
        f'    <link href="https://arxiv.org/pdf/{versioned}" rel="related" type="application/pdf"'
        ' title="pdf"/>',
        f"    <summary>{escape(record['summary'])}</summary>",
    ]
    for category in record.get("categories") or [record["primary_category"]]:
        lines.append(
            f'    <category term={quoteattr(category)} scheme="http://arxiv.org/schemas/atom"/>'
        )
    lines.append(f"    <published>{record['published']}</published>")
    if record.get("comment"):
        lines.append(f"    <arxiv:comment>{escape(record['comment'])}</arxiv:comment>")
    lines.append(f"    <arxiv:primary_category term={quoteattr(record['primary_category'])}/>")
    if record.get("journal_ref"):
        lines.append(f"    <arxiv:journal_ref>{escape(record['journal_ref'])}</arxiv:journal_ref>")
    if record.get("doi"):
        lines.append(f"    <arxiv:doi>{escape(record['doi'])}</arxiv:doi>")
        doi_link = quoteattr(f"https://doi.org/{record['doi']}")
        lines.append(f'    <link href={doi_link} rel="related" title="doi"/>')
    for author in record.get("authors") or []:
        lines += ["    <author>", f"      <name>{escape(author)}</name>", "    </author>"]
    lines.append("  </entry>")
    return lines


def arxiv_error(code: str, message: str) -> Response:
    """arXiv's answer to a bad query: HTTP 400 and a feed holding one `Error` entry."""
    now, url = _arxiv_now(), quoteattr(f"https://arxiv.org/api/errors#{code}")
    body = "\n".join([
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">',
        "  <id>https://arxiv.org/</id>",
        "  <title>arXiv Search Results</title>",
        f"  <updated>{now}</updated>",
        "  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>",
        "  <opensearch:totalResults>1</opensearch:totalResults>",
        "  <opensearch:startIndex>0</opensearch:startIndex>",
        "  <entry>",
        f"    <id>{escape(url[1:-1])}</id>",
        "    <title>Error</title>",
        f"    <updated>{now}</updated>",
        f'    <link href={url} rel="alternate" type="text/html"/>',
        f"    <summary>{escape(message)}</summary>",
        "    <author>",
        "      <name>arXiv api core</name>",
        "    </author>",
        "  </entry>",
        "</feed>",
    ])  # fmt: skip
    return Response(400, (body + "\n").encode(), {**ATOM_TYPE})


def _arxiv_now() -> str:
    return iso_timestamp(time.time()).split(".")[0] + "Z"
