"""Statement routing: where an INSERT's data starts, which statements return results, output format."""

from __future__ import annotations

import pytest

from infra.store.sql import find_insert_data, first_keyword, output_format


def test_client_insert_statement_and_binary_data():
    head = b"INSERT INTO db.t (`a`, `format`) FORMAT Native\n\x00\x01FORMAT x"
    found = find_insert_data(head)
    assert found is not None
    assert (found.statement, found.fmt) == ("INSERT INTO db.t (`a`, `format`)", "Native")
    assert head[found.data_offset:] == b"\x00\x01FORMAT x"


@pytest.mark.parametrize(("head", "statement", "fmt", "data"), [
    (b"insert into t settings format_csv_delimiter=';' format CSV 1;2\n",
     "insert into t settings format_csv_delimiter=';'", "CSV", b"1;2\n"),
    (b"-- FORMAT x\n/* FORMAT y */ INSERT INTO t SELECT * FROM input('a String') FORMAT TSV\r\nabc",
     "-- FORMAT x\n/* FORMAT y */ INSERT INTO t SELECT * FROM input('a String')", "TSV", b"abc"),
    (b"INSERT INTO t FORMAT JSONEachRow \t{\"a\": 1}", "INSERT INTO t", "JSONEachRow", b'{"a": 1}'),
    (b"INSERT INTO `FORMAT x` FORMAT CSV\n\n1", "INSERT INTO `FORMAT x`", "CSV", b"\n1"),
])
def test_insert_with_data(head, statement, fmt, data):
    found = find_insert_data(head)
    assert found is not None
    assert (found.statement, found.fmt, head[found.data_offset:]) == (statement, fmt, data)


@pytest.mark.parametrize("head", [
    b"INSERT INTO t VALUES (1, 'FORMAT x')",
    b"INSERT INTO t SELECT format('{}', 'x')",
    b"SELECT 1 FORMAT Native",
    b"INSERT INTO t FORMAT",
    b"INSERT INTO t (a) FORMAT 'unterminated",
    b"",
])
def test_not_insert_data(head):
    assert find_insert_data(head) is None


def test_first_keyword():
    assert first_keyword(b" /* x */ (SELECT 1)") == "SELECT"
    assert first_keyword(b"with 1 as x select x") == "WITH"
    assert first_keyword(b"-- only a comment\n") == ""
    assert first_keyword(b"'string'") == ""


def test_output_format():
    query = b"SELECT 'FORMAT JSON' FROM (SELECT 1 FORMAT CSV)\n FORMAT Native"
    assert output_format(query, "TabSeparated") == "Native"
    assert output_format(b"SELECT 1", "TSV") == "TSV"
