"""Knowledge bases for the web half's tests: the shipped FAQ sample as a dataset version, and an index put
in a given state directly (the index worker that really builds one is the worker half's, tested there)."""

from __future__ import annotations

from datetime import timedelta

from django.core.files import File
from django.utils import timezone

from inference.models import KnowledgeChunk, KnowledgeIndex
from products.datasets.seed import SAMPLES_DIR
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.models import DatasetVersion

#: 384 float16 zeros: the chunk rows need an embedding; the scripted runners never read it.
NO_EMBEDDING = bytes(384 * 2)


def faq_version(team, user, *, name: str = "Store FAQ") -> DatasetVersion:
    """The shipped store_faq.csv, uploaded and mapped as question → answer pairs."""
    with (SAMPLES_DIR / "store_faq.csv").open("rb") as handle:
        upload = dataset_upload_create(team=team, user=user, file=File(handle, name="store_faq.csv"), name=name)
    return dataset_version_create(source=upload, user=user, kind="qa", shape="pairs",
                                  column_mapping={"question": ["question"], "answer": ["answer"]})


def index_building(index: KnowledgeIndex, *, done: int = 12, total: int = 30) -> KnowledgeIndex:
    """The index as a worker holds it mid-build (a lease far ahead, so no sweep takes it back meanwhile)."""
    index.status, index.chunks_done, index.chunks_total = KnowledgeIndex.Status.RUNNING, done, total
    index.worker, index.lease_expires_at = "tests", timezone.now() + timedelta(hours=1)
    index.save()
    return index


def index_ready(index: KnowledgeIndex, passages: list[tuple[str, str]]) -> KnowledgeIndex:
    """The index built: one chunk per (title, text), status succeeded."""
    KnowledgeChunk.objects.bulk_create([
        KnowledgeChunk(index=index, position=n, title=title, text=text, source_row=n + 1, embedding=NO_EMBEDDING)
        for n, (title, text) in enumerate(passages)
    ])
    index.status, index.chunks_done, index.chunks_total = KnowledgeIndex.Status.SUCCEEDED, len(passages), len(passages)
    index.built_at = index.finished_at = timezone.now()
    index.lease_expires_at = None
    index.save()
    return index


def index_failed(index: KnowledgeIndex, error: str) -> KnowledgeIndex:
    index.status, index.error, index.finished_at = KnowledgeIndex.Status.FAILED, error, timezone.now()
    index.save()
    return index


def pdf_bytes(lines: list[str]) -> bytes:
    """A one-page PDF whose page says ``lines`` (Helvetica, one per line), written by hand as PDF 1.4."""
    content = "BT /F1 12 Tf 72 720 Td " + " ".join(f"({line}) Tj 0 -16 Td" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    return out + f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
