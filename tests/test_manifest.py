from __future__ import annotations

import itertools
import random

import pytest

from dataprep.errors import DataprepError
from dataprep.manifest import ManifestRow, read_manifest, write_manifest


def test_round_trip_relative_paths_and_extra_columns(tmp_path):
    rows = [
        ManifestRow("a", tmp_path / "data/img/a.jpg", tmp_path / "data/m/a.png", 4, 3, {"fold": "1"}),
        ManifestRow("b", tmp_path / "data/img/b.jpg", None, 5, 6, {"group": "x"}),
    ]
    path = write_manifest(rows, tmp_path / "work/manifest.csv")
    text = path.read_text()
    assert text.splitlines()[0] == "id,image,mask,width,height,fold,group"
    assert "../data/img/a.jpg" in text and str(tmp_path) not in text
    back = read_manifest(path)
    assert [r.id for r in back] == ["a", "b"]
    assert back[0].image == tmp_path / "data/img/a.jpg" and back[1].mask is None
    assert back[0].extra == {"fold": "1", "group": ""} and back[1].extra == {"fold": "", "group": "x"}


@pytest.mark.parametrize(
    "content, message",
    [
        ("id,image\na,b\n", "missing column"),
        ("id,image,mask,width,height\na,x.jpg,,1,1\na,y.jpg,,1,1\n", "duplicate id"),
        ("id,image,mask,width,height\na,x.jpg,,one,1\n", "line 2: width .one. must be an integer"),
        ("id,image,mask,width,height\n,x.jpg,,1,1\n", "empty id"),
    ],
)
def test_bad_manifests_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "m.csv"
    path.write_text(content)
    with pytest.raises(DataprepError, match=message) as err:
        read_manifest(path)
    assert str(path) in str(err.value)


def test_missing_manifest(tmp_path):
    with pytest.raises(DataprepError, match="not found"):
        read_manifest(tmp_path / "nope.csv")


# The per-folder fast paths of reading and writing must give what the plain per-path
# code gave. These references are that code (one normpath/abspath/relpath per path,
# a DictWriter), written out here so a change in the fast paths cannot hide.
TRICKY = ["a.jpg", "img/a.jpg", "./img/a.jpg", "img//a.jpg", "img/./a.jpg", "img/../a.jpg", "../up/a.jpg",
          "../../a.jpg", "img/", "img/.", "img/..", ".", "..", "img/sub/../../b.png", "a b/ü.png",
          "/abs/x/y.png", "/abs/x/../y.png", "/abs/./x//y.png", "//net/share/y.png", "/", "/abs/x/"]


def _reference_resolve(base, value):
    import os
    from pathlib import Path

    p = Path(value)
    return p if p.is_absolute() else Path(os.path.normpath(Path(base) / p))


def _reference_write(rows, path):
    import csv
    import os
    from pathlib import Path

    base = os.path.abspath(Path(path).parent)
    extra = {}
    for row in rows:
        for key in row.extra:
            extra.setdefault(key, None)

    def rel(target):
        folder, name = os.path.split(os.path.abspath(target))
        folder = Path(os.path.relpath(folder, base)).as_posix()
        return name if folder == "." else f"{folder}/{name}"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "image", "mask", "width", "height", *extra], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**{k: "" for k in extra}, **row.extra, "id": row.id, "image": rel(row.image),
                             "mask": rel(row.mask) if row.mask else "", "width": row.width, "height": row.height})


@pytest.mark.parametrize("base", ["/data/set", "/", "/data/set/sub"])
def test_resolving_paths_per_folder_matches_per_path(base):
    from dataprep.manifest import _resolve

    for value in TRICKY:
        assert isinstance(_resolve(base, value), str), value
        assert str(_resolve(base, value)) == str(_reference_resolve(base, value)), value


# Every spelling of up to four parts: the per-folder caches are looked up by the folder as written, so one
# folder spelled two ways, a bare name and a root-level file must not share or poison an entry.
SPELLINGS = sorted({"/".join(parts) for n in range(1, 5)
                    for parts in itertools.product(["a", "", ".", "..", "x.png"], repeat=n)} | set(TRICKY))


@pytest.mark.parametrize("base", ["/data/set", "/"])
def test_one_cache_over_many_spellings_resolves_each_as_a_path_would(base):
    from dataprep.manifest import _resolve

    for order in (SPELLINGS, SPELLINGS[::-1], random.Random(0).sample(SPELLINGS, len(SPELLINGS))):
        folders: dict[str, str] = {}
        for value in order * 2:  # the second time from the cache
            assert _resolve(base, value, folders) == str(_reference_resolve(base, value)), value


@pytest.mark.parametrize("base", ["/data/out", "/"])
def test_one_cache_over_many_spellings_relates_each_as_relpath_would(base, monkeypatch, tmp_path):
    import os
    from pathlib import Path

    from dataprep.manifest import relative_path

    monkeypatch.chdir(tmp_path)  # relative targets are taken against the working folder

    def reference(target):
        folder, name = os.path.split(target)
        if name in ("", ".", "..") or not os.path.isabs(folder):
            folder, name = os.path.split(os.path.abspath(target))
        rel = Path(os.path.relpath(folder, base)).as_posix()
        return name if rel == "." else f"{rel}/{name}"

    targets = [*SPELLINGS, *(str(_reference_resolve("/data/set", v)) for v in SPELLINGS)]
    for order in (targets, targets[::-1], random.Random(1).sample(targets, len(targets))):
        folders: dict[str, str] = {}
        for target in order * 2:
            assert relative_path(base, target, folders) == reference(target), target


def test_writing_matches_a_dict_writer_byte_for_byte(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "work").mkdir()
    targets = [tmp_path / v for v in TRICKY if not v.startswith("/")] + [Path(v) for v in TRICKY if v.startswith("/")]
    targets += [Path("rel/c.jpg"), Path("rel/../d.jpg")]  # relative in memory: against the current folder
    rows = [ManifestRow(f"r{i}", t, targets[-1 - i] if i % 3 else None, i + 1, 2,
                        {"fold": str(i)} if i % 2 else {"group": "g", "note": 'a,"b"'})
            for i, t in enumerate(targets)]
    rows.append(ManifestRow("shadow", tmp_path / "s.jpg", None, 1, 1, {"width": "stale", "fold": "9"}))
    for out in (tmp_path / "work" / "m.csv", tmp_path / "m.csv"):
        write_manifest(rows, out)
        _reference_write(rows, out.with_suffix(".ref"))
        assert out.read_bytes() == out.with_suffix(".ref").read_bytes()


def test_rows_keep_path_strings_and_give_paths_and_an_int_fold(tmp_path):
    import pickle
    from dataclasses import FrozenInstanceError
    from pathlib import Path

    row = ManifestRow("a", tmp_path / "img" / "a.jpg", str(tmp_path / "m//a.png"), 4, 3, {"fold": "2", "g": "x"})
    assert row.image == tmp_path / "img" / "a.jpg" and isinstance(row.image, Path)
    assert row.mask_str == str(tmp_path / "m" / "a.png")  # Path's normal form
    assert row.fold == 2 and isinstance(row.fold, int)
    assert row.with_extra(fold=0).fold == 0 and row.with_extra(fold=0).extra == {"fold": "0", "g": "x"}
    assert ManifestRow("b", "b.jpg", None, 1, 1).fold is None
    assert ManifestRow("b", "b.jpg", None, 1, 1, {"fold": "train"}).fold is None
    assert pickle.loads(pickle.dumps(row)) == row and row.replace(width=5).width == 5
    with pytest.raises(FrozenInstanceError):
        row.width = 9
    path = write_manifest([row], tmp_path / "m.csv")
    back = read_manifest(path)[0]
    assert back == row and back.fold == 2


def test_the_quick_id_check_lets_through_only_ids_every_rule_accepts():
    from dataprep.manifest_checks import _id_problem_named, id_problem

    alphabet = ["a", "/", ".", "\\", ":", "\x00", "\x1f", "C", "\u00e9", " "]
    for length in range(5):
        for chars in itertools.product(alphabet, repeat=length):
            sid = "".join(chars)
            assert id_problem(sid) == _id_problem_named(sid), repr(sid)


def test_a_repeated_header_column_and_windows_paths_are_named(tmp_path):
    """`id,id,...`: the second column silently became the ids; `images\\x.jpg` got 'output folder is inside
    ...' from masks2labels, as a file name with a backslash in it."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images/x.jpg").write_bytes(b"")
    (tmp_path / "twice.csv").write_text("id,image,mask,width,height,id\np,images/x.jpg,,4,4,q\n")
    with pytest.raises(DataprepError, match=r"twice.csv: header names column\(s\) 'id' twice; keep one"):
        read_manifest(tmp_path / "twice.csv")
    (tmp_path / "win.csv").write_text("id,image,mask,width,height\np,images\\x.jpg,,4,4\n")
    with pytest.raises(DataprepError, match=r"win.csv: line 2: path 'images\\\\x.jpg' uses backslashes"):
        read_manifest(tmp_path / "win.csv")
    (tmp_path / "blank.csv").write_text("id,image,mask,width,height,,\np,images/x.jpg,,4,4,,\n")  # a spreadsheet's
    assert [r.id for r in read_manifest(tmp_path / "blank.csv").rows] == ["p"]
    (tmp_path / "a\\b.jpg").write_bytes(b"")  # a real file of that name is read as it is
    (tmp_path / "real.csv").write_text("id,image,mask,width,height\np,a\\b.jpg,,4,4\n")
    assert read_manifest(tmp_path / "real.csv").rows[0].image == tmp_path / "a\\b.jpg"


# Hand-edited manifests: what spreadsheets, pandas, editors and `cat` leave in a file that dataprep never writes.
HEADER = "id,image,mask,width,height"


def _refusal(tmp_path, text: str, name: str = "m.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(DataprepError) as err:
        read_manifest(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message[len(f"{path}: "):]


def test_line_numbers_count_blank_lines_and_line_breaks_in_quoted_cells(tmp_path):
    """`line N` counted records, not lines: one after a blank line or a quoted two-line note was one too low."""
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,,4,3\n\nb,b.jpg,,4O,3\n") == "line 4: width '4O' must be an integer"
    crlf = f"{HEADER},note\r\na,a.jpg,,4,3,\"two\nlines\"\r\nb,b.jpg,,4,3,x\r\nc,c.jpg,,4,x,x\r\n"
    assert _refusal(tmp_path, crlf) == "line 5: height 'x' must be an integer"
    # the counter names duplicate and bad ids too, and a row that spans lines by the line it starts on
    three_lines = f"{HEADER},note\na,a.jpg,,4,3,\"1\n2\n3\"\n\na,b.jpg,,4,3,\n"
    assert _refusal(tmp_path, three_lines) == "line 6: duplicate id 'a'"
    assert _refusal(tmp_path, f"{HEADER}\n\n\n../up,a.jpg,,4,3\n").startswith("line 4: id '../up' has an empty")
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,\"m\nm.png\",4,3\nb,,,4,3\n") == "line 4: empty image path for id 'b'"


@pytest.mark.parametrize("separator, called", [(";", "';'"), ("\t", "tabs")])
def test_a_semicolon_or_tab_separated_file_is_refused_saying_so(tmp_path, separator, called):
    """Excel where the decimal mark is a comma saves ';': it said 'missing column(s) id, image, mask, width,
    height', as if the file were no manifest at all."""
    text = "\ufeff" + f"{HEADER}\r\na,a.jpg,,4,3\r\n".replace(",", separator)
    assert _refusal(tmp_path, text) == (f"not a dataprep manifest: its header is separated by {called}, and a "
                                        "manifest is comma-separated: save it as CSV with ',' between the cells")
    assert _refusal(tmp_path, "id,image\na,b\n") == "not a dataprep manifest: missing column(s) mask, width, height"


def test_spaces_after_the_commas_and_around_header_names_are_no_part_of_them(tmp_path):
    """`id, image, mask, width, height`: ' image' was no image column ('missing column(s) image, mask, ...')."""
    (tmp_path / "m.csv").write_text("id, image, mask, width, height, fold\na, img/a.jpg, m/a.png, 4, 3, 1\n"
                                    "b, img/b.jpg, , 5, 6, 2\n")
    rows = read_manifest(tmp_path / "m.csv").rows
    assert [(r.id, r.image, r.mask, r.width, r.height, r.extra, r.fold) for r in rows] == [
        ("a", tmp_path / "img/a.jpg", tmp_path / "m/a.png", 4, 3, {"fold": "1"}, 1),
        ("b", tmp_path / "img/b.jpg", None, 5, 6, {"fold": "2"}, 2)]
    # a name padded on one column alone is that column; the values of a file written without spaces keep theirs
    (tmp_path / "one.csv").write_text("id,image ,mask,width,height\n a,a.jpg,,4,3\n")
    assert read_manifest(tmp_path / "one.csv").rows[0].id == " a"
    assert _refusal(tmp_path, "id, image, mask, width, height, image\na, a.jpg, , 4, 3, b.jpg\n") == \
        "header names column(s) 'image' twice; keep one"


def test_any_number_of_leading_byte_order_marks_is_taken_off_the_header(tmp_path):
    """A BOM on text that already had one (saved twice): it said 'missing column(s) id'."""
    (tmp_path / "m.csv").write_bytes(("\ufeff\ufeff" + f"{HEADER}\na,a.jpg,,4,3\n").encode("utf-8"))
    assert [(r.id, r.width) for r in read_manifest(tmp_path / "m.csv")] == [("a", 4)]


def test_a_header_repeated_in_the_middle_is_named(tmp_path):
    """`cat a.csv b.csv`: it said 'line 4: width/height must be integers'."""
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,,4,3\nb,b.jpg,,4,3\n{HEADER}\nc,c.jpg,,4,3\n") == \
        "line 4 repeats the header (manifests concatenated?); remove it"
    # the second file's own BOM, columns and order; a third header is not 'duplicate id' either
    second = "\ufeffimage,id,mask,height,width,fold"
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,,4,3\n\n{second}\nc,c.jpg,,4,3,1\n") == \
        "line 4 repeats the header (manifests concatenated?); remove it"
    assert _refusal(tmp_path, f"{HEADER}\nid,x.jpg,,4,3\n{HEADER}\n") == \
        "line 3 repeats the header (manifests concatenated?); remove it"


def test_whole_number_floats_are_sizes_and_other_values_are_named(tmp_path):
    """pandas writes an int column holding a NaN as floats (`320.0`), refused without naming the value."""
    (tmp_path / "m.csv").write_text(f"{HEADER}\na,a.jpg,,320.0,240.0\nb,b.jpg,,320,2.4e2\n")
    assert [(r.width, r.height) for r in read_manifest(tmp_path / "m.csv")] == [(320, 240), (320, 240)]
    assert type(read_manifest(tmp_path / "m.csv")[0].width) is int
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,,320,240\nb,b.jpg,,320.5,240\n") == \
        "line 3: width '320.5' must be an integer"
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,,320,nan\n") == "line 2: height 'nan' must be an integer"
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,,320,\n") == "line 2: height '' must be an integer"
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,,0.0,3\n") == "line 2: width/height must be positive, got 0x3"


def test_a_row_with_more_fields_than_the_header_is_refused(tmp_path):
    """An unquoted comma in a path (`a,b.jpg`) moved every later cell along and the last one was dropped."""
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,,4,3\n\nb,img,b.jpg,,4,3,junk\n") == \
        "line 4 has 7 fields, the header 5: a comma inside an unquoted value? quote it"
    # empty surplus cells (a spreadsheet's trailing commas) lose nothing and are read as before
    (tmp_path / "m.csv").write_text(f"{HEADER}\na,a.jpg,,4,3,,\n")
    assert [(r.id, r.extra) for r in read_manifest(tmp_path / "m.csv")] == [("a", {})]


def test_rows_of_empty_cells_are_blank_lines(tmp_path):
    """Excel keeps rows it once had as `,,,,`: 'line 34: empty id', where a blank line is skipped."""
    (tmp_path / "m.csv").write_text(f"{HEADER}\r\na,a.jpg,,4,3\r\n,,,,\r\n , ,,,\r\nb,b.jpg,,4,3\r\n,,,,\r\n,,,,\r\n")
    assert [r.id for r in read_manifest(tmp_path / "m.csv")] == ["a", "b"]
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,,4,3\n,,,,\n,b.jpg,,4,3\n") == "line 4: empty id"
    # An id of spaces beside a path is no blank line: it named output files '  .png'.
    assert _refusal(tmp_path, f"{HEADER}\na,a.jpg,,4,3\n  ,b.jpg,,4,3\n") == "line 3: id '  ' is blank"
