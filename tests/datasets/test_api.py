"""The dataset API: streamed uploads, resumable chunked uploads, preview, roles, and bad
files refused with nothing left registered or on disk."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
from collections.abc import Iterator

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.config import Settings
from modelyard.datasets import receive as dataset_receive
from modelyard.datasets.schemas import PreviewOut
from modelyard.storage import open_store
from tests.conftest import Api, blob_keys

CSV = b"a,b,y\n1,2.5,3.0\n4,5.0,6.5\n7,8.25,9.0\n"


def upload(api: Api, filename: str, data: bytes, **fields: str):  # type: ignore[no-untyped-def]
    return api.post("/datasets", files={"file": (filename, data)}, data=fields)


def stored_files(settings: Settings) -> set[str]:
    """Every dataset blob in the store and every file in this machine's scratch directory."""
    scratch = settings.scratch_dir
    local = {f"scratch/{p.name}" for p in scratch.iterdir()} if scratch.is_dir() else set()
    return blob_keys(open_store(settings), "datasets") | local


def test_upload_records_hash_rows_and_schema(editor: Api, viewer: Api, unique: str) -> None:
    data = gzip.compress(CSV)
    r = upload(editor, "sales.csv.gz", data, name=f"sales-{unique}", description="three rows")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == f"sales-{unique}"
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["format"], body["compression"], body["row_count"]) == ("csv", "gzip", 3)
    assert body["size_bytes"] == len(data)
    assert body["columns"] == [
        {"name": "a", "type": "int64"},
        {"name": "b", "type": "double"},
        {"name": "y", "type": "double"},
    ]
    assert body["description"] == "three rows"
    assert viewer.get(f"/datasets/{body['id']}").json() == body
    preview = viewer.get(f"/datasets/{body['id']}/preview", params={"limit": 2}).json()
    assert preview["rows"] == [{"a": 1, "b": 2.5, "y": 3.0}, {"a": 4, "b": 5.0, "y": 6.5}]
    listed = viewer.get("/datasets", params={"q": unique}).json()["items"]
    assert [d["id"] for d in listed] == [body["id"]]


def test_the_preview_bytes_are_a_preview_as_the_schema_says(
    editor: Api, viewer: Api, unique: str
) -> None:
    """The preview's body is put together from cached pieces by hand: it must parse as
    PreviewOut, the same on a miss and on a hit."""
    body = upload(editor, "p.csv", CSV, name=f"preview-{unique}").json()
    first = viewer.get(f"/datasets/{body['id']}/preview", params={"limit": 3})
    second = viewer.get(f"/datasets/{body['id']}/preview", params={"limit": 3})
    assert first.content == second.content
    preview = PreviewOut.model_validate_json(first.content)
    assert preview.dataset == body["id"]
    assert [c.model_dump() for c in preview.columns] == body["columns"]
    assert len(preview.rows) == 3


def test_parquet_and_json_lines_uploads(editor: Api, unique: str) -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table({"x": [1.0, 2.0], "when": pa.array([0, 1], pa.timestamp("ms"))}), sink)
    r = upload(editor, f"p-{unique}.parquet", sink.getvalue())
    assert r.status_code == 201, r.text
    assert r.json()["name"] == f"p-{unique}"
    assert r.json()["columns"][1] == {"name": "when", "type": "timestamp[ms]"}
    r = upload(editor, f"j-{unique}.jsonl", b'{"x": 1}\n{"x": 2}\n')
    assert (r.status_code, r.json()["format"], r.json()["row_count"]) == (201, "jsonl", 2)


def test_a_raw_body_upload(editor: Api, unique: str) -> None:
    r = editor.post(
        "/datasets",
        content=CSV,
        params={"filename": "raw.csv", "name": f"raw-{unique}"},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["filename"], r.json()["row_count"]) == ("raw.csv", 3)


def test_a_json_body_or_a_file_without_columns_is_no_dataset(
    editor: Api, settings: Settings
) -> None:
    before = editor.get("/datasets").json()["items"]
    r = editor.post("/datasets", json={})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "not a dataset file" in r.json()["detail"]
    r = editor.post("/datasets", content=b"{}\n", params={"filename": "empty.jsonl"})
    assert r.status_code == 400, r.text
    assert "no columns" in r.json()["detail"]
    assert editor.get("/datasets").json()["items"] == before
    assert {key for key in stored_files(settings) if key.startswith("scratch/")} == set()


def test_default_names_come_from_the_file_name_and_never_collide(editor: Api, unique: str) -> None:
    first = upload(editor, f"dup-{unique}.csv", CSV).json()
    second = upload(editor, f"dup-{unique}.csv.gz", gzip.compress(CSV)).json()
    assert (first["name"], second["name"]) == (f"dup-{unique}", f"dup-{unique}-2")
    r = upload(editor, "other.csv", CSV, name=f"dup-{unique}")
    assert r.status_code == 409
    assert f"dup-{unique}" in r.json()["detail"]


@pytest.mark.parametrize(
    ("filename", "data", "status", "expected"),
    [
        ("bad.csv", b"a,b\n1,2\n3\n", 400, "Line 3 has 1 fields"),
        ("bad.csv.gz", CSV, 400, "not compressed"),
        ("bad.parquet", CSV, 400, "says parquet"),
        ("bad.csv", b"", 400, "empty"),
        ("bad.jsonl", b'{"a": 1}\n{"a": "s"}\n', 400, "column 'a'"),
        ("model.pkl", b"\x80\x04\x95\x00", 400, "Pickle and joblib files are refused"),
    ],
)
def test_bad_uploads_are_refused_and_leave_nothing(
    editor: Api,
    settings: Settings,
    unique: str,
    filename: str,
    data: bytes,
    status: int,
    expected: str,
) -> None:
    before = stored_files(settings)
    r = upload(editor, filename, data, name=f"bad-{unique}")
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert expected in r.json()["detail"]
    assert stored_files(settings) == before
    assert editor.get("/datasets", params={"q": f"bad-{unique}"}).json()["items"] == []


def test_upload_form_errors(editor: Api) -> None:
    r = editor.post("/datasets", files={"other": ("x.csv", CSV)})
    assert r.status_code == 400 and "`file`" in r.json()["detail"]
    r = editor.post("/datasets", files={"file": ("x.csv", CSV)}, data={"name": "no spaces allowed"})
    assert r.status_code == 400 and "not a valid dataset name" in r.json()["detail"]
    r = editor.post("/datasets", files={"file": ("x.csv", CSV)}, data={"format": "xlsx"})
    assert r.status_code == 400 and "Unknown format" in r.json()["detail"]


def test_roles(viewer: Api, anonymous: Api, editor: Api, unique: str) -> None:
    assert upload(viewer, "v.csv", CSV).status_code == 403
    assert anonymous.get("/datasets").status_code == 401
    dataset = upload(editor, f"roles-{unique}.csv", CSV).json()
    assert viewer.delete(f"/datasets/{dataset['id']}").status_code == 403
    assert viewer.post("/datasets/uploads", json={"filename": "x.csv"}).status_code == 403


def test_delete_removes_the_row_and_the_file(editor: Api, settings: Settings, unique: str) -> None:
    before = stored_files(settings)
    dataset = upload(editor, f"del-{unique}.csv", CSV).json()
    assert len(stored_files(settings) - before) == 1
    assert editor.delete(f"/datasets/{dataset['id']}").status_code == 204
    assert editor.get(f"/datasets/{dataset['id']}").status_code == 404
    assert stored_files(settings) == before


def test_too_large_uploads_are_refused(editor: Api, settings: Settings) -> None:
    limit = settings.storage.max_dataset_bytes
    settings.storage.max_dataset_bytes = 10
    try:
        before = stored_files(settings)
        r = upload(editor, "big.csv", CSV)
        assert r.status_code == 413
        assert stored_files(settings) == before
        r = editor.post("/datasets/uploads", json={"filename": "big.csv", "size": 11})
        assert r.status_code == 400
    finally:
        settings.storage.max_dataset_bytes = limit


# --- resumable uploads -----------------------------------------------------------------------


def _chunks(data: bytes, size: int) -> Iterator[tuple[int, bytes]]:
    for offset in range(0, len(data), size):
        yield offset, data[offset : offset + size]


def test_a_chunked_upload(editor: Api, unique: str) -> None:
    data = gzip.compress(b"a,y\n" + b"".join(b"%d,%d\n" % (i, 2 * i) for i in range(20_000)))
    created = editor.post(
        "/datasets/uploads",
        json={"filename": "big.csv.gz", "size": len(data), "name": f"chunked-{unique}"},
    )
    assert created.status_code == 201, created.text
    upload_id = created.json()["id"]
    for offset, chunk in _chunks(data, 7_000):
        r = editor.put(f"/datasets/uploads/{upload_id}", params={"offset": offset}, content=chunk)
        assert r.status_code == 200, r.text
        assert r.json()["received"] == offset + len(chunk)
    done = editor.post(
        f"/datasets/uploads/{upload_id}/complete", json={"sha256": hashlib.sha256(data).hexdigest()}
    )
    assert done.status_code == 201, done.text
    assert (done.json()["row_count"], done.json()["name"]) == (20_000, f"chunked-{unique}")
    assert done.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert editor.get(f"/datasets/uploads/{upload_id}").status_code == 404


def test_a_completing_upload_shows_how_far_its_conversion_went(
    editor: Api,
    database,
    unique: str,  # type: ignore[no-untyped-def]
) -> None:
    """What the upload page's conversion bar polls: ``converted`` on the upload, written by
    the conversion (at most every quarter second), null while chunks still arrive."""
    from modelyard.datasets.service import ConversionProgress

    created = editor.post("/datasets/uploads", json={"filename": "p.csv", "name": f"p-{unique}"})
    upload_id = created.json()["id"]
    assert created.json()["converted"] is None
    progress = ConversionProgress(database, upload_id, every=0)
    progress(1234, 5000)
    assert editor.get(f"/datasets/uploads/{upload_id}").json()["converted"] == 1234
    throttled = ConversionProgress(database, upload_id, every=3600)
    throttled(10, 5000)  # the first is written...
    throttled(4000, 5000)  # ...the next within the interval is not
    assert editor.get(f"/datasets/uploads/{upload_id}").json()["converted"] == 10
    assert editor.delete(f"/datasets/uploads/{upload_id}").status_code == 204


def _send_then_disconnect(api: Api, path_and_query: str, first: bytes, length: int) -> int | None:
    """Drive the ASGI app as a server would when a client's connection breaks mid-body."""
    path, _, query = path_and_query.partition("?")
    headers = [(k.lower().encode(), v.encode()) for k, v in api.headers.items()]
    headers += [
        (b"content-length", str(length).encode()),
        (b"content-type", b"application/octet-stream"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "root_path": "",
        "state": {},
    }
    messages = [
        {"type": "http.request", "body": first, "more_body": True},
        {"type": "http.disconnect"},
    ]
    answered: list[int] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            answered.append(int(message["status"]))  # type: ignore[call-overload]

    async def call() -> None:
        with contextlib.suppress(Exception):
            await api.client.app(scope, receive, send)  # type: ignore[arg-type]

    anyio.run(call)
    return answered[0] if answered else None


def test_a_broken_chunk_is_resumed_from_the_last_complete_one(
    editor: Api, settings: Settings, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dataset_receive, "WRITE_BYTES", 1000)  # write the broken chunk's start
    data = b"a,y\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(5_000))
    upload_id = editor.post(
        "/datasets/uploads", json={"filename": "r.csv", "size": len(data)}
    ).json()["id"]
    first = data[:10_000]
    assert (
        editor.put(
            f"/datasets/uploads/{upload_id}", params={"offset": 0}, content=first
        ).status_code
        == 200
    )

    # The connection drops after 5,000 bytes of the next chunk: the server sees a disconnect.
    status = _send_then_disconnect(
        editor,
        f"/api/datasets/uploads/{upload_id}?offset=10000",
        data[10_000:15_000],
        len(data) - 10_000,
    )
    assert status in (None, 400)  # the client is gone; nothing counts
    parts = blob_keys(open_store(settings), f"datasets/uploads/{upload_id}")
    assert parts == {f"datasets/uploads/{upload_id}/{0:016d}-{10_000:016d}.part"}
    assert not [n for n in stored_files(settings) if "dataset-" in n]  # the broken chunk
    state = editor.get(f"/datasets/uploads/{upload_id}").json()
    assert state["received"] == 10_000

    # A chunk at the wrong offset is refused with the offset to resume from.
    wrong = editor.put(
        f"/datasets/uploads/{upload_id}", params={"offset": 15_000}, content=data[15_000:]
    )
    assert wrong.status_code == 409
    assert wrong.json()["received"] == 10_000

    rest = editor.put(
        f"/datasets/uploads/{upload_id}", params={"offset": 10_000}, content=data[10_000:]
    )
    assert rest.status_code == 200 and rest.json()["received"] == len(data)
    done = editor.post(f"/datasets/uploads/{upload_id}/complete", json={})
    assert done.status_code == 201, done.text
    assert done.json()["row_count"] == 5_000
    assert done.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert not blob_keys(open_store(settings), f"datasets/uploads/{upload_id}")


def test_completing_early_or_with_a_wrong_hash_fails(editor: Api, settings: Settings) -> None:
    data = CSV
    upload_id = editor.post(
        "/datasets/uploads", json={"filename": "h.csv", "size": len(data)}
    ).json()["id"]
    editor.put(f"/datasets/uploads/{upload_id}", params={"offset": 0}, content=data[:10])
    early = editor.post(f"/datasets/uploads/{upload_id}/complete", json={})
    assert early.status_code == 409 and early.json()["received"] == 10
    over = editor.put(
        f"/datasets/uploads/{upload_id}", params={"offset": 10}, content=data[10:] + b"extra"
    )
    assert over.status_code == 400
    editor.put(f"/datasets/uploads/{upload_id}", params={"offset": 10}, content=data[10:])
    before = stored_files(settings)
    wrong = editor.post(f"/datasets/uploads/{upload_id}/complete", json={"sha256": "0" * 64})
    assert wrong.status_code == 400 and "corrupted" in wrong.json()["detail"]
    assert editor.get(f"/datasets/uploads/{upload_id}").status_code == 404
    assert stored_files(settings) <= before


def test_a_bad_file_uploaded_in_chunks_is_refused_and_discarded(
    editor: Api, settings: Settings
) -> None:
    data = b"a,b\n1,2\n3,4,5\n"
    upload_id = editor.post("/datasets/uploads", json={"filename": "bad.csv"}).json()["id"]
    editor.put(f"/datasets/uploads/{upload_id}", params={"offset": 0}, content=data)
    r = editor.post(f"/datasets/uploads/{upload_id}/complete")
    assert r.status_code == 400 and r.json()["line"] == 3
    assert not blob_keys(open_store(settings), f"datasets/uploads/{upload_id}")
    assert editor.get(f"/datasets/uploads/{upload_id}").status_code == 404


def test_uploads_are_private_to_their_creator(editor: Api, admin: Api) -> None:
    upload_id = editor.post("/datasets/uploads", json={"filename": "p.csv"}).json()["id"]
    assert admin.get(f"/datasets/uploads/{upload_id}").status_code == 200
    assert editor.delete(f"/datasets/uploads/{upload_id}").status_code == 204
    assert editor.get(f"/datasets/uploads/{upload_id}").status_code == 404


def test_uploads_refuse_a_bad_claim_up_front(editor: Api) -> None:
    r = editor.post("/datasets/uploads", json={"filename": "x.csv", "format": "xlsx"})
    assert r.status_code == 422


def test_stale_upload_parts_are_purged(editor: Api, database, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    import sqlalchemy as sa

    from modelyard.models import DatasetUpload

    upload_id = editor.post("/datasets/uploads", json={"filename": "old.csv"}).json()["id"]
    editor.put(f"/datasets/uploads/{upload_id}", params={"offset": 0}, content=b"a,b\n1,2\n")
    assert blob_keys(open_store(settings), f"datasets/uploads/{upload_id}")
    with database.session() as session:
        session.execute(
            sa.update(DatasetUpload)
            .where(DatasetUpload.id == upload_id)
            .values(updated_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        )
    editor.post("/datasets/uploads", json={"filename": "new.csv"})
    assert editor.get(f"/datasets/uploads/{upload_id}").status_code == 404
    assert not blob_keys(open_store(settings), f"datasets/uploads/{upload_id}")


def test_a_multipart_body_cut_inside_the_file_is_refused(editor: Api, settings: Settings) -> None:
    before = stored_files(settings)
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="d.csv"\r\n\r\na,b\n1,2\n'
    )
    r = editor.post(
        "/datasets", content=body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"}
    )
    assert r.status_code == 400 and "closing boundary" in r.json()["detail"]
    garbage = editor.post(
        "/datasets",
        content=b"\x00" * 100,
        headers={"Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    assert garbage.status_code == 400
    assert stored_files(settings) == before
