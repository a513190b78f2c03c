"""Resolving a job's input into items: inline items, files, newline-delimited JSON files, earlier jobs' outputs.

Files are listed through fsspec, so local paths, `file://` and every protocol whose fsspec package is installed
(`s3://` with s3fs, `gs://` with gcsfs, ...) work. The service's own environment configures them the fsspec way:
`FSSPEC_S3_ENDPOINT_URL=http://127.0.0.1:9000`, `FSSPEC_S3='{"anon": true}'`, plus each library's usual variables
(`AWS_ACCESS_KEY_ID`, ...). Options are not part of a job's request, so credentials never sit in the job store.

Path rules (the Cortex batch API's): a path that names a file selects it; a path that names a directory selects
every file under it; any other path is a prefix and selects every file whose path starts with it. Then, when
`includes` is not empty, a file must match one of its glob patterns; then a file that matches any of `excludes`
is dropped. Patterns match the whole path as the job names it (`s3://bucket/images/img_2.jpg`); `*` and `?` stop
at `/`, `**` does not, `[...]` and `{a,b}` work as in shells.

Local files must lie under one of the service's allowed roots (`jobnode serve --allow-root`; by default its data
directory and its current directory): paths are resolved, `..` and symlinks included, before they are checked.

Other protocols are refused unless the person running the service allows them (`--allow-protocol s3`): a job's
input must not make the service fetch any URL and hand its content back (a dry run answers the items). A URL that
names a host (`http`, `ftp`, `sftp`, ...) is also refused when the host is a loopback, link-local or private address
(the service's own machine and network), unless that host is allowed (`--allow-host`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fsspec
from fsspec.utils import get_protocol

from jobnode.core.models import MAX_NESTING, ArtifactsInput, DelimitedInput, FilesInput, ItemsInput, JobInput, too_deep
from jobnode.service.runner import item_label
from jobnode.service.store import Store

LOCAL_PROTOCOLS = frozenset({"file", "local"})
#: protocols whose URLs name a network host (`s3://bucket/...` names a bucket: its endpoint is the operator's)
HOST_PROTOCOLS = frozenset({"http", "https", "ftp", "sftp", "ssh", "smb", "webdav", "webhdfs", "hdfs", "dask"})
# protocols that read local files by a path of their own: they would get around the allowed roots
LOCAL_BACKED = frozenset(
    {"zip", "tar", "libarchive", "git", "dir", "reference", "simplecache", "filecache", "blockcache", "cached"}
)
REJECTED_REASON_MAX = 300


class InputError(ValueError):
    """An input that cannot be resolved; `field` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class ResolvedInput:
    """A job's items, with what they came from.

    Attributes:
        items: one entry per item, in order.
        artifacts: ids of the artifacts read (the job's lineage inputs).
        rejected: `(label, reason)` of each item that could not be read (a bad line, labelled `path:line`).
        files: the files read or listed, in order.
    """

    items: list[Any]
    artifacts: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """A glob pattern as a regular expression over a whole path.

    `**` matches anything, `/` included; `*` matches any run of characters except `/`; `?` one character except
    `/`; `[abc]`, `[!abc]`, `[a-z]` a character of a class; `{jpg,png}` one of the alternatives; `\\` escapes.

    Raises:
        ValueError: the pattern is malformed (an unclosed `[` or `{`).

    Example:
        ```python
        compile_glob("**.jpg").fullmatch("s3://bucket/images/img_2.jpg")  # a match
        ```
    """
    regex, end = _glob_regex(pattern, 0, top=True)
    assert end == len(pattern)
    return re.compile(regex, re.DOTALL)


def _glob_regex(pattern: str, i: int, *, top: bool) -> tuple[str, int]:
    """Translate from `i` up to the end (top level) or to the `,` or `}` that ends an alternative."""
    out: list[str] = []
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
            else:
                out.append("[^/]*")
                i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            close = pattern.find("]", i + 2 if pattern.startswith(("[!", "[^"), i) else i + 1)
            if close < 0:
                raise ValueError(f"unclosed '[' at position {i}")
            body = pattern[i + 1 : close]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append("[" + ("^/" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = close + 1
        elif c == "{":
            alternatives: list[str] = []
            i += 1
            while True:
                alt, i = _glob_regex(pattern, i, top=False)
                alternatives.append(alt)
                if i >= n:
                    raise ValueError("unclosed '{'")
                i += 1
                if pattern[i - 1] == "}":
                    break
            out.append("(?:" + "|".join(alternatives) + ")")
        elif c in ",}" and not top:
            return "".join(out), i
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out), i


def select(paths: Sequence[str], includes: Sequence[str], excludes: Sequence[str]) -> list[str]:
    """The paths kept by the include and exclude patterns, in order (patterns compiled by `compile_glob`).

    Example:
        ```python
        select(["a/x.jpg", "a/y_3.jpg", "a/z.gif"], ["**.jpg"], ["**_3.jpg"])  # ["a/x.jpg"]
        ```
    """
    keep = [compile_glob(p) for p in includes]
    drop = [compile_glob(p) for p in excludes]
    return [
        p for p in paths if (not keep or any(g.fullmatch(p) for g in keep)) and not any(g.fullmatch(p) for g in drop)
    ]


class InputResolver:
    """Turns a job's input into items, reading files through fsspec and artifacts from the store.

    Example:
        ```python
        resolver = InputResolver(store, roots=[data_dir, Path.cwd()])
        resolved = resolver.resolve(FilesInput(paths=["images/"], includes=["**.jpg"]))
        ```
    """

    def __init__(
        self,
        store: Store,
        *,
        roots: Sequence[Path],
        protocols: Sequence[str] = (),
        hosts: Sequence[str] = (),
    ) -> None:
        """`protocols`: the fsspec protocols besides local files that inputs may use; `hosts`: host names or
        networks (`127.0.0.1`, `10.0.0.0/8`) that URL inputs may reach though they are not public addresses."""
        self.store = store
        self.roots = tuple(os.path.realpath(r) for r in roots)
        self.protocols = frozenset(p.lower() for p in protocols)
        self.host_names = frozenset(h.lower() for h in hosts if not _network(h))
        self.networks = tuple(n for h in hosts if (n := _network(h)) is not None)

    def resolve(self, spec_input: JobInput) -> ResolvedInput:
        """The items of an input.

        Raises:
            InputError: the input names something that cannot be read or may not be read (outside the roots).
        """
        if isinstance(spec_input, ItemsInput):
            return ResolvedInput(items=list(spec_input.items))
        if isinstance(spec_input, FilesInput):
            files = self.list_files(spec_input.paths, spec_input.includes, spec_input.excludes)
            return ResolvedInput(items=list(files), files=files)
        if isinstance(spec_input, DelimitedInput):
            files = self.list_files(spec_input.paths, spec_input.includes, spec_input.excludes)
            resolved = ResolvedInput(items=[], files=files)
            for path in files:
                self._read_lines(path, resolved)
            return resolved
        if isinstance(spec_input, ArtifactsInput):
            return self._read_artifacts(spec_input.artifacts)
        raise InputError("input.kind", f"input kind {spec_input.kind!r} is not supported by this service")

    # -- files --------------------------------------------------------------------------------------------------

    def list_files(self, paths: Sequence[str], includes: Sequence[str], excludes: Sequence[str]) -> list[str]:
        """Every file the paths select, filtered by the patterns, without duplicates, in order."""
        for name, patterns in (("includes", includes), ("excludes", excludes)):
            for i, pattern in enumerate(patterns):
                try:
                    compile_glob(pattern)
                except ValueError as exc:
                    raise InputError(f"input.{name}[{i}]", f"bad glob pattern {pattern!r}: {exc}") from None
        found: dict[str, None] = {}
        for i, path in enumerate(paths):
            where = f"input.paths[{i}]"
            if not path.strip():
                raise InputError(where, "an empty path; name a file, a directory or a prefix")
            listed = self._list_local(path, where) if _is_local(path, where) else self._list_remote(path, where)
            if not listed:
                raise InputError(where, f"no file at or under {path!r}; check the path (and the prefix)")
            found.update(dict.fromkeys(listed))
        selected = select(list(found), includes, excludes)
        if not selected:
            raise InputError(
                "input.includes" if includes else "input.excludes",
                f"the patterns drop all {len(found)} files listed; run with dry_run=true to see the paths",
            )
        return selected

    def _check_root(self, real: str, shown: str, where: str) -> None:
        if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self.roots):
            raise InputError(
                where,
                f"{shown!r} is outside the directories this service may read; start it with "
                "--allow-root DIR to allow another one",
            )

    def _list_local(self, path: str, where: str) -> list[str]:
        """Local files, each checked against the roots after resolving `..` and symlinks."""
        scheme = "file://" if path.startswith("file://") else "local://" if path.startswith("local://") else ""
        raw = path[len(scheme) :]
        absolute = os.path.abspath(raw)
        if raw.endswith("/") and not absolute.endswith("/"):
            absolute += "/"  # a trailing slash means "under this directory", which abspath would forget

        def show(p: str) -> str:
            return scheme + p

        real = os.path.realpath(absolute)
        self._check_root(real, path, where)
        if os.path.isfile(real):
            return [show(absolute.rstrip("/"))]
        if os.path.isdir(real):
            return [show(p) for p in self._walk(absolute.rstrip("/") or "/", where)]
        parent, _, _ = absolute.rpartition("/")
        parent = parent or "/"
        real_parent = os.path.realpath(parent)
        if not os.path.isdir(real_parent):
            return []
        self._check_root(real_parent, show(parent), where)
        out: list[str] = []
        with os.scandir(real_parent) as entries:
            names = sorted(e.name for e in entries)
        for name in names:
            candidate = os.path.join(parent, name)
            if not candidate.startswith(absolute):
                continue
            target = os.path.realpath(candidate)
            self._check_root(target, show(candidate), where)
            if os.path.isdir(target):
                out.extend(self._walk(candidate, where))
            elif os.path.isfile(target):
                out.append(candidate)
        return [show(p) for p in out]

    def _walk(self, top: str, where: str) -> list[str]:
        """Files under `top`, sorted; symlinks are followed only to where the roots allow, each directory once."""
        out: list[str] = []
        seen: set[str] = set()

        def visit(directory: str) -> None:
            real = os.path.realpath(directory)
            if real in seen:
                return
            seen.add(real)
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                raise InputError(where, f"cannot list {directory!r}: {exc.strerror}") from None
            for entry in entries:
                full = f"{directory}/{entry.name}" if directory != "/" else f"/{entry.name}"
                if entry.is_symlink():
                    self._check_root(os.path.realpath(full), full, where)
                if entry.is_dir():
                    visit(full)
                elif entry.is_file():
                    out.append(full)

        visit(top)
        return out

    def _check_remote(self, path: str, where: str) -> None:
        """Refuse a protocol the service does not allow, and a URL whose host is on this machine or its network."""
        protocol = get_protocol(path)
        if protocol not in self.protocols:
            allowed = ", ".join(sorted(self.protocols)) or "none but local files"
            raise InputError(
                where,
                f"{path!r}: protocol {protocol!r} is not allowed on this service (allowed: {allowed}); whoever runs "
                f"it can allow it with --allow-protocol {protocol}",
            )
        if protocol not in HOST_PROTOCOLS:
            return
        try:
            host = urlsplit(path).hostname
        except ValueError:
            host = None
        if not host:
            raise InputError(where, f"{path!r} names no host; give a URL such as {protocol}://host/path")
        if host.lower() in self.host_names:
            return
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            raise InputError(where, f"cannot resolve the host of {path!r}: {exc}") from None
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
            if not address.is_global and not any(address in network for network in self.networks):
                raise InputError(
                    where,
                    f"{path!r}: {host} is {address}, an address of this machine or a private network, which inputs "
                    f"may not reach; whoever runs the service can allow it with --allow-host {host}",
                )

    def _list_remote(self, path: str, where: str) -> list[str]:
        """Files through fsspec: a file, everything under a directory, or everything under a prefix."""
        self._check_remote(path, where)
        # fsspec's file systems raise whatever their libraries raise (connection errors, protocol errors, errors of
        # their own): any failure to list is the input's problem, never the service's
        try:
            fs, stripped = fsspec.core.url_to_fs(path)
        except Exception as exc:
            raise InputError(where, f"cannot open {path!r}: {exc}") from None
        try:
            fs.invalidate_cache()  # the service lives long: a listing cached by an earlier job may be stale
            if fs.isfile(stripped):
                names = [stripped]
            elif fs.isdir(stripped):
                names = sorted(fs.find(stripped))
            else:
                parent = stripped.rpartition("/")[0]
                names = []
                if parent and fs.isdir(parent):
                    for info in sorted(fs.ls(parent, detail=True), key=lambda d: str(d["name"])):
                        name = str(info["name"]).rstrip("/")
                        if not name.startswith(stripped):
                            continue
                        names.extend(sorted(fs.find(name)) if info.get("type") == "directory" else [name])
        except Exception as exc:
            raise InputError(where, f"cannot list {path!r}: {type(exc).__name__}: {exc}") from None
        return [fs.unstrip_protocol(n) for n in names]

    def _read_lines(self, path: str, into: ResolvedInput) -> None:
        """Each line of a newline-delimited JSON file is an item; a line that is not JSON is rejected alone."""
        try:
            with fsspec.open(path, "rb") as fh:
                data = fh.read()
        except Exception as exc:  # as in `_list_remote`: whatever a file system raises
            raise InputError("input.paths", f"cannot read {path!r}: {type(exc).__name__}: {exc}") from None
        parse_lines(path, data, into.items, into.rejected)

    # -- artifacts ----------------------------------------------------------------------------------------------

    def _read_artifacts(self, refs: Sequence[str]) -> ResolvedInput:
        resolved = ResolvedInput(items=[])
        for i, ref in enumerate(refs):
            row = self.find_artifact(ref)
            if row is None:
                raise InputError(
                    f"input.artifacts[{i}]",
                    f"no artifact {ref!r}; name one by its id or as JOB_ID/OUTPUT_NAME (e.g. job_0123/results)",
                )
            if row["id"] in resolved.artifacts:
                continue
            try:
                resolved.items.extend(_records(row["path"]))
            except FileNotFoundError:
                raise InputError(f"input.artifacts[{i}]", f"artifact {ref!r} was deleted meanwhile") from None
            except ValueError as exc:
                raise InputError(f"input.artifacts[{i}]", f"artifact {ref!r} cannot be items: {exc}") from None
            resolved.artifacts.append(row["id"])
        return resolved

    def find_artifact(self, ref: str) -> Any:
        """An artifact's row by id or by `job_id/output_name`, or None."""
        row = self.store.artifacts.row(ref)
        if row is None and "/" in ref:
            job_id, _, name = ref.partition("/")
            row = self.store.artifacts.by_name(job_id, name)
        return row


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: standard JSON only: `NaN` and `Infinity` are refused (they could not be answered as JSON)
_DECODER = json.JSONDecoder(parse_constant=_no_constant)
#: an escaped UTF-16 surrogate: the line may hold a lone one, which is not text (checked only then: it is rare)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _text_only(value: Any) -> Any:
    """`value` unless one of its strings holds a lone surrogate (which no UTF-8 store can keep)."""
    json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value


def _nests_too_deep(line: str, value: Any) -> bool:
    """Whether a line's value nests deeper than `MAX_NESTING` (counting brackets first spares most lines a walk)."""
    return line.count("[") + line.count("{") > MAX_NESTING and too_deep(value)


def parse_lines(path: str, data: bytes, items: list[Any], rejected: list[tuple[str, str]]) -> None:
    """Append each line's JSON value to `items`; a line that is not JSON (or not UTF-8) goes to `rejected` as
    `(path:line, reason)`. Blank lines are skipped; lines end at `\\n` only (a JSON string may hold U+2028).
    """
    try:
        lines: Sequence[str | bytes] = data.decode("utf-8").removeprefix("\ufeff").split("\n")
    except UnicodeDecodeError:
        lines = data.split(b"\n")  # decoded one by one below, so that a bad line is rejected alone
    # the C scanner behind json.loads, called directly, is 2-3x faster per line; whatever it does not take
    # whole goes through the full decoder, which also words the error
    scan: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
    for number, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                rejected.append((f"{path}:{number}", f"line {number} is not UTF-8 text"))
                continue
        line = raw.strip()
        if not line:
            continue
        if _SURROGATE_ESCAPE.search(line) is None:
            try:
                value, end = scan(line, 0)
                if end == len(line) and not _nests_too_deep(line, value):
                    items.append(value)
                    continue
            except (StopIteration, ValueError, RecursionError):
                pass
        try:
            value = _text_only(_DECODER.decode(line))
            if _nests_too_deep(line, value):
                raise RecursionError
            items.append(value)
        except RecursionError:
            rejected.append((f"{path}:{number}", f"line {number} nests more than {MAX_NESTING} levels deep"))
        except UnicodeEncodeError:
            rejected.append((f"{path}:{number}", f"line {number} holds a lone surrogate (such as \\ud800), not text"))
        except ValueError as exc:
            rejected.append((f"{path}:{number}", f"line {number} is not JSON: {str(exc)[:REJECTED_REASON_MAX]}"))


def _records(path: str) -> Iterator[Any]:
    """An artifact's records; one that nests too deeply to be an item (a step's result may) raises ValueError."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                value = json.loads(line)
                if _nests_too_deep(line, value):
                    raise ValueError(f"record {number} nests more than {MAX_NESTING} levels deep")
                yield value


def _network(host: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """`host` as a network (`127.0.0.1`, `10.0.0.0/8`, `::1`), or None when it is a host name."""
    try:
        return ipaddress.ip_network(host.strip("[]"), strict=False)
    except ValueError:
        return None


def _is_local(path: str, where: str) -> bool:
    """Whether a path is a local file path; refuses what would read local files around the roots."""
    if "::" in re.sub(r"\[[^\]]*\]", "", path):  # `::` chains URLs (an IPv6 host's, in brackets, does not)
        raise InputError(where, f"{path!r}: chained fsspec URLs are not accepted; name the file itself")
    protocol = get_protocol(path)
    if protocol in LOCAL_BACKED:
        raise InputError(where, f"{path!r}: protocol {protocol!r} is not accepted; name the file itself")
    return protocol in LOCAL_PROTOCOLS


def failed_items(store: Store, job_id: str, label: Callable[[Any, int], str] = item_label) -> list[Any]:
    """The items of a job that did not succeed and can be run again: its dead-lettered batches' items, then each
    item that failed alone (a rejected line has no value to run again), in item order.

    Example:
        ```python
        items = failed_items(engine.store, "job_0123")
        ```
    """
    out: list[tuple[int, Any]] = []
    for row in store.batches.dead_letters(job_id):
        first = row["first_item"]
        out.extend((first + i, item) for i, item in enumerate(json.loads(row["items"])))
    failed = store.errors.failed_items(job_id)
    for batch_row in store.batches.processed(job_id, list(failed)):  # a dead-lettered batch has no results
        labels = failed[batch_row["idx"]]
        first, results = batch_row["first_item"], json.loads(batch_row["results"])
        for i, item in enumerate(json.loads(batch_row["items"])):
            if results[i] is None and label(item, first + i) in labels:
                out.append((first + i, item))
    out.sort(key=lambda pair: pair[0])
    return [item for _, item in out]
