"""Input resolution in-process: glob rules, path/prefix listing, path safety, delimited lines, fsspec protocols."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from jobnode.core.models import DelimitedInput, FilesInput, ItemsInput
from jobnode.service.inputs import InputError, InputResolver, compile_glob, parse_lines, select
from jobnode.service.store import Store

CORTEX_TREE = [
    "s3://bucket/images/img_1.png",
    "s3://bucket/images/img_2.jpg",
    "s3://bucket/images/img_3.jpg",
    "s3://bucket/images/img_4.gif",
]


class TestGlob:
    @pytest.mark.parametrize(
        ("pattern", "path", "matches"),
        [
            ("**.jpg", "s3://bucket/images/img_2.jpg", True),
            ("**.jpg", "s3://bucket/images/img_1.png", False),
            ("**_3.jpg", "s3://bucket/images/img_3.jpg", True),
            ("*.jpg", "s3://bucket/images/img_2.jpg", False),  # `*` stops at `/`
            ("s3://bucket/*/img_?.jpg", "s3://bucket/images/img_2.jpg", True),
            ("s3://bucket/*/img_?.jpg", "s3://bucket/images/img_22.jpg", False),
            ("**/img_[12].*", "s3://bucket/images/img_1.png", True),
            ("**/img_[!12].*", "s3://bucket/images/img_1.png", False),
            ("**/img_[!12].*", "s3://bucket/images/img_3.jpg", True),
            ("**.{png,gif}", "s3://bucket/images/img_4.gif", True),
            ("**.{png,gif}", "s3://bucket/images/img_3.jpg", False),
            ("**\\*.txt", "/data/a*.txt", True),
            ("**\\*.txt", "/data/ab.txt", False),
            ("**(1).txt", "/data/x(1).txt", True),
        ],
    )
    def test_patterns(self, pattern: str, path: str, matches: bool) -> None:
        assert bool(compile_glob(pattern).fullmatch(path)) is matches

    @pytest.mark.parametrize("pattern", ["**.[jpg", "**.{jpg,png"])
    def test_malformed_patterns_raise(self, pattern: str) -> None:
        with pytest.raises(ValueError, match="unclosed"):
            compile_glob(pattern)

    @pytest.mark.parametrize(
        ("includes", "excludes", "expected"),
        [
            ([], [], CORTEX_TREE),
            (["**.jpg"], [], ["s3://bucket/images/img_2.jpg", "s3://bucket/images/img_3.jpg"]),
            (["**.jpg"], ["**_3.jpg"], ["s3://bucket/images/img_2.jpg"]),
            ([], ["**.gif"], CORTEX_TREE[:3]),
        ],
    )
    def test_cortex_filtering_examples(self, includes: list[str], excludes: list[str], expected: list[str]) -> None:
        assert select(CORTEX_TREE, includes, excludes) == expected


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp_path/root/images/{img_1.png, img_2.jpg, img_3.jpg, img_4.gif}, root/images2/other.jpg, outside/secret."""
    root = tmp_path / "root"
    for name in ("img_1.png", "img_2.jpg", "img_3.jpg", "img_4.gif"):
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "images" / name).write_text(name)
    (root / "images" / "deep").mkdir()
    (root / "images" / "deep" / "img_5.jpg").write_text("deep")
    (root / "images2").mkdir()
    (root / "images2" / "other.jpg").write_text("other")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("secret")
    return root


@pytest.fixture
def resolver(tmp_path: Path, tree: Path) -> Iterator[InputResolver]:
    store = Store(tmp_path / "db" / "jobnode.db")
    yield InputResolver(store, roots=[tree], protocols=["memory", "nosuchproto"])
    store.close()


def files(
    resolver: InputResolver, *paths: str, includes: list[str] | None = None, excludes: list[str] | None = None
) -> list[str]:
    spec = FilesInput(paths=list(paths), includes=includes or [], excludes=excludes or [])
    return list(resolver.resolve(spec).items)


class TestLocalFiles:
    def test_inline_items_pass_through(self, resolver: InputResolver) -> None:
        assert resolver.resolve(ItemsInput(items=[1, {"a": 2}])).items == [1, {"a": 2}]

    def test_a_directory_selects_everything_under_it(self, resolver: InputResolver, tree: Path) -> None:
        images = tree / "images"
        assert files(resolver, f"{images}/") == [
            f"{images}/deep/img_5.jpg",
            f"{images}/img_1.png",
            f"{images}/img_2.jpg",
            f"{images}/img_3.jpg",
            f"{images}/img_4.gif",
        ]
        assert files(resolver, str(images)) == files(resolver, f"{images}/")

    def test_a_prefix_selects_what_starts_with_it(self, resolver: InputResolver, tree: Path) -> None:
        assert files(resolver, f"{tree}/images/img") == [
            f"{tree}/images/img_{n}" for n in ("1.png", "2.jpg", "3.jpg", "4.gif")
        ]
        assert files(resolver, f"{tree}/image", includes=["**other*"]) == [f"{tree}/images2/other.jpg"]

    def test_files_and_duplicates(self, resolver: InputResolver, tree: Path) -> None:
        one, two = f"{tree}/images/img_1.png", f"{tree}/images/img_2.jpg"
        assert files(resolver, two, one, two) == [two, one]

    def test_file_urls_keep_their_scheme(self, resolver: InputResolver, tree: Path) -> None:
        assert files(resolver, f"file://{tree}/images/", includes=["**.gif"]) == [f"file://{tree}/images/img_4.gif"]

    def test_relative_paths_are_relative_to_the_service_directory(
        self, resolver: InputResolver, tree: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tree)
        assert files(resolver, "images/img_1") == [f"{tree}/images/img_1.png"]

    def test_cortex_examples(self, resolver: InputResolver, tree: Path) -> None:
        images = f"{tree}/images/"
        everything = [f"{images}img_{n}" for n in ("1.png", "2.jpg", "3.jpg", "4.gif")]
        assert files(resolver, f"{images}img") == everything
        assert files(resolver, f"{images}img_1.png", f"{images}img_2.jpg") == everything[:2]
        assert files(resolver, f"{images}img", includes=["**.jpg"]) == everything[1:3]
        assert files(resolver, f"{images}img", includes=["**.jpg"], excludes=["**_3.jpg"]) == [everything[1]]
        assert files(resolver, f"{images}img", excludes=["**.gif"]) == everything[:3]

    def test_nothing_found_names_the_path(self, resolver: InputResolver, tree: Path) -> None:
        with pytest.raises(InputError) as info:
            files(resolver, f"{tree}/images/img_1.png", f"{tree}/images/nothing-here")
        assert info.value.field == "input.paths[1]"
        assert "no file at or under" in info.value.message

    def test_patterns_that_drop_everything_are_an_error(self, resolver: InputResolver, tree: Path) -> None:
        with pytest.raises(InputError) as info:
            files(resolver, f"{tree}/images/", includes=["**.tiff"])
        assert info.value.field == "input.includes"
        assert "dry_run" in info.value.message

    def test_an_empty_path_is_refused(self, resolver: InputResolver, tree: Path) -> None:
        with pytest.raises(InputError, match="empty path") as info:
            files(resolver, str(tree / "images"), " ")
        assert info.value.field == "input.paths[1]"

    def test_bad_pattern_names_its_field(self, resolver: InputResolver, tree: Path) -> None:
        with pytest.raises(InputError) as info:
            files(resolver, f"{tree}/images/", excludes=["ok", "**.{a,b"])
        assert info.value.field == "input.excludes[1]"


class TestPathSafety:
    def test_paths_outside_the_roots_are_refused(self, resolver: InputResolver, tree: Path) -> None:
        for path in (f"{tree.parent}/outside/secret", "/etc/passwd", f"file://{tree.parent}/outside/", "/"):
            with pytest.raises(InputError, match="--allow-root"):
                files(resolver, path)

    def test_dot_dot_cannot_escape(self, resolver: InputResolver, tree: Path) -> None:
        with pytest.raises(InputError, match="outside"):
            files(resolver, f"{tree}/images/../../outside/secret")
        assert files(resolver, f"{tree}/images/../images/img_1.png") == [f"{tree}/images/img_1.png"]

    def test_symlinks_cannot_escape(self, resolver: InputResolver, tree: Path) -> None:
        os.symlink(tree.parent / "outside" / "secret", tree / "images" / "link")
        with pytest.raises(InputError, match="outside"):
            files(resolver, f"{tree}/images/link")
        with pytest.raises(InputError, match="outside"):  # found while listing a directory
            files(resolver, f"{tree}/images/")
        with pytest.raises(InputError, match="outside"):  # found while listing a prefix
            files(resolver, f"{tree}/images/li")

    def test_symlinked_directories_cannot_escape(self, resolver: InputResolver, tree: Path) -> None:
        os.symlink(tree.parent / "outside", tree / "out")
        with pytest.raises(InputError, match="outside"):
            files(resolver, f"{tree}/out/secret")
        with pytest.raises(InputError, match="outside"):
            files(resolver, f"{tree}/")

    def test_symlinks_inside_the_roots_are_followed_once(self, resolver: InputResolver, tree: Path) -> None:
        os.symlink(tree / "images2", tree / "images" / "alias")
        os.symlink(tree / "images", tree / "images" / "deep" / "loop")  # a cycle: each directory is read once
        listed = files(resolver, f"{tree}/images/", includes=["**other*"])
        assert listed == [f"{tree}/images/alias/other.jpg"]

    @pytest.mark.parametrize("path", ["simplecache::file:///etc/passwd", "zip://x", "tar://y", "git://z"])
    def test_protocols_that_read_local_files_are_refused(self, resolver: InputResolver, path: str) -> None:
        with pytest.raises(InputError, match="not accepted"):
            files(resolver, path)

    def test_an_unknown_protocol_is_a_clear_error(self, resolver: InputResolver) -> None:
        with pytest.raises(InputError, match="cannot open 'nosuchproto://bucket/x'"):
            files(resolver, "nosuchproto://bucket/x")


class TestFsspecProtocols:
    """The in-memory fsspec filesystem stands in for any remote one (S3 itself runs in tests/e2e/test_s3.py)."""

    @pytest.fixture
    def bucket(self) -> Iterator[str]:
        fs = fsspec.filesystem("memory")
        name = f"/bucket-{uuid.uuid4().hex[:8]}"
        for leaf in ("img_1.png", "img_2.jpg", "img_3.jpg", "img_4.gif", "sub/img_5.jpg"):
            fs.pipe(f"{name}/images/{leaf}", leaf.encode())
        fs.pipe(f"{name}/imagesX/other.jpg", b"x")
        yield f"memory://{name}"
        fs.rm(name, recursive=True)

    def test_directory_prefix_and_file(self, resolver: InputResolver, bucket: str) -> None:
        images = f"{bucket}/images"
        assert files(resolver, f"{images}/", includes=["**.jpg"]) == [
            f"{images}/img_2.jpg",
            f"{images}/img_3.jpg",
            f"{images}/sub/img_5.jpg",
        ]
        assert files(resolver, f"{images}/img_", excludes=["**.gif"]) == [
            f"{images}/img_1.png",
            f"{images}/img_2.jpg",
            f"{images}/img_3.jpg",
        ]
        assert files(resolver, f"{bucket}/imag", includes=["**other*"]) == [f"{bucket}/imagesX/other.jpg"]
        assert files(resolver, f"{images}/img_4.gif") == [f"{images}/img_4.gif"]

    def test_new_files_are_seen_by_the_next_listing(self, resolver: InputResolver, bucket: str) -> None:
        before = files(resolver, f"{bucket}/images/")
        fsspec.filesystem("memory").pipe(f"{bucket.removeprefix('memory://')}/images/img_6.jpg", b"6")
        assert len(files(resolver, f"{bucket}/images/")) == len(before) + 1

    def test_delimited_lines_over_fsspec(self, resolver: InputResolver, bucket: str) -> None:
        path = f"{bucket}/lines.jsonl"
        with fsspec.open(path, "w") as fh:
            fh.write('{"n": 1}\n\n{"n": 2}\nnot json\n')
        resolved = resolver.resolve(DelimitedInput(paths=[path]))
        assert resolved.items == [{"n": 1}, {"n": 2}]
        assert [label for label, _ in resolved.rejected] == [f"{path}:4"]


class TestDelimited:
    def test_each_line_is_an_item_and_bad_lines_are_rejected_alone(self, resolver: InputResolver, tree: Path) -> None:
        data = tree / "data"
        data.mkdir()
        (data / "a.jsonl").write_text('{"id": "a1"}\n{"id": "a2"}\n{broken\n\n"a string"\n')
        (data / "b.jsonl").write_text(json.dumps({"id": "b1"}) + "\r\n" + "[1, 2]\n" + "{}\n{")
        (data / "skip.txt").write_text("not even read")
        resolved = resolver.resolve(DelimitedInput(paths=[f"{data}/"], includes=["**.jsonl"]))
        assert resolved.items == [{"id": "a1"}, {"id": "a2"}, "a string", {"id": "b1"}, [1, 2], {}]
        assert [label for label, _ in resolved.rejected] == [f"{data}/a.jsonl:3", f"{data}/b.jsonl:4"]
        assert all("is not JSON" in reason for _, reason in resolved.rejected)
        assert resolved.files == [f"{data}/a.jsonl", f"{data}/b.jsonl"]

    def test_line_edge_cases(self) -> None:
        items: list[object] = []
        rejected: list[tuple[str, str]] = []
        data = (
            '\ufeff{"a": 1}\r\n'  # a byte order mark and a CRLF ending
            '  {"b": "x\u2028y"}  \n'  # surrounding spaces; U+2028 inside a string does not end the line
            "1 2\n"  # two values on one line
            '"unterminated\n'
            "[1, 2]\n\n\n"
        ).encode()
        parse_lines("f.jsonl", data, items, rejected)
        assert items == [{"a": 1}, {"b": "x\u2028y"}, [1, 2]]
        assert [label for label, _ in rejected] == ["f.jsonl:3", "f.jsonl:4"]
        assert "Extra data" in rejected[0][1]

    def test_a_line_that_is_not_utf8_is_rejected_alone(self) -> None:
        items: list[object] = []
        rejected: list[tuple[str, str]] = []
        parse_lines("f.jsonl", b'{"ok": 1}\n"\xff\xfe"\n{"ok": 2}\n', items, rejected)
        assert items == [{"ok": 1}, {"ok": 2}]
        assert rejected == [("f.jsonl:2", "line 2 is not UTF-8 text")]


class TestRemoteProtocols:
    """Issue 11, defects 2 and 3: inputs could make the service fetch any URL (and crash on odd protocols)."""

    @pytest.fixture
    def strict(self, tmp_path: Path, tree: Path) -> Iterator[InputResolver]:
        store = Store(tmp_path / "strict" / "jobnode.db")
        yield InputResolver(store, roots=[tree])
        store.close()

    @pytest.mark.parametrize(
        "path",
        [
            "http://127.0.0.1:9/x",
            "https://example.com/data.jsonl",
            "ftp://127.0.0.1:1/x",
            "s3://bucket/x",
            "generic://x",
            "async_wrapper://x",
            "memory://bucket/x",
        ],
    )
    def test_only_local_files_by_default(self, strict: InputResolver, path: str) -> None:
        protocol = path.partition(":")[0]
        with pytest.raises(InputError, match=f"protocol '{protocol}' is not allowed.*--allow-protocol {protocol}"):
            files(strict, path)

    @pytest.mark.parametrize("path", ["generic://x", "async_wrapper://x"])
    def test_an_allowed_protocol_that_does_not_fit_is_a_clear_error(self, store_dir: Path, path: str) -> None:
        store = Store(store_dir / "jobnode.db")
        resolver = InputResolver(store, roots=[store_dir], protocols=[path.partition(":")[0]])
        with pytest.raises(InputError, match=r"cannot (open|list)"):
            files(resolver, path)
        store.close()

    def test_a_connection_that_fails_is_a_clear_error(self, store_dir: Path) -> None:
        store = Store(store_dir / "jobnode.db")
        resolver = InputResolver(store, roots=[store_dir], protocols=["ftp"], hosts=["127.0.0.1"])
        with pytest.raises(InputError, match=r"cannot (open|list) 'ftp://127.0.0.1:1/x'"):
            files(resolver, "ftp://127.0.0.1:1/x")
        store.close()

    @pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "169.254.169.254", "10.1.2.3", "192.168.0.1"])
    def test_hosts_of_this_machine_and_private_networks_are_refused(self, store_dir: Path, host: str) -> None:
        store = Store(store_dir / "jobnode.db")
        resolver = InputResolver(store, roots=[store_dir], protocols=["http"])
        with pytest.raises(InputError, match=r"an address of this machine or a private network.*--allow-host"):
            files(resolver, f"http://{host}:9/data.jsonl")
        store.close()

    def test_an_allowed_host_is_fetched(self, store_dir: Path) -> None:
        store = Store(store_dir / "jobnode.db")
        resolver = InputResolver(store, roots=[store_dir], protocols=["http"], hosts=["127.0.0.0/8"])
        with pytest.raises(InputError, match=r"cannot (open|list) 'http://127.0.0.1:1/data.jsonl'"):  # nothing listens
            files(resolver, "http://127.0.0.1:1/data.jsonl")
        store.close()

    @pytest.fixture
    def store_dir(self, tmp_path: Path) -> Path:
        path = tmp_path / "remote"
        path.mkdir()
        return path


class TestLinesThatCannotBeItems:
    """Issue 11, defect 2: a lone surrogate, NaN or a deep line from a file reached the store or an answer."""

    def test_each_is_rejected_alone(self) -> None:
        items: list[object] = []
        rejected: list[tuple[str, str]] = []
        deep = b"[" * 150 + b"]" * 150
        very_deep = b"[" * 5000 + b"]" * 5000
        data = b'{"a": 1}\n{"b": "\\ud800"}\n{"c": "\\ud83d\\ude00"}\nNaN\n[1, Infinity]\n' + deep + b"\n" + very_deep
        parse_lines("f", data, items, rejected)
        assert items == [{"a": 1}, {"c": "\N{GRINNING FACE}"}]
        assert [(label, reason.split(" ", 2)[2]) for label, reason in rejected] == [
            ("f:2", "holds a lone surrogate (such as \\ud800), not text"),
            ("f:4", "is not JSON: NaN is not JSON"),
            ("f:5", "is not JSON: Infinity is not JSON"),
            ("f:6", "nests more than 100 levels deep"),
            ("f:7", "nests more than 100 levels deep"),
        ]
