"""load_survey: every input format, country filters, ids, validation and user errors."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from valuesim.errors import DataError, UnknownRespondentError
from valuesim.survey import SurveyData, generate_synthetic, load_codebook, load_survey
from valuesim.survey.codebook import codebook_from_dict
from valuesim.survey.loaders import assign_ids, clean_codes, survey_from_frames
from valuesim.survey.respondent import Missing
from valuesim.survey.synthetic import to_wvs_frame


@pytest.fixture(scope="module")
def small() -> SurveyData:
    """24 respondents in 3 countries with missing codes."""
    return generate_synthetic(n=24, seed=5, countries=["DEU", "NGA", "JPN"])


@pytest.fixture(scope="module")
def small_frame(small: SurveyData) -> pd.DataFrame:
    return to_wvs_frame(small)


def assert_same(loaded: SurveyData, expected: SurveyData) -> None:
    """Same ids, countries and codes (dtype aside)."""
    assert list(loaded.frame.index) == list(expected.frame.index)
    assert list(loaded.frame["country"]) == list(expected.frame["country"])
    assert loaded.question_ids == expected.question_ids
    np.testing.assert_array_equal(
        loaded.frame[loaded.question_ids].to_numpy(np.int64), expected.frame[expected.question_ids].to_numpy(np.int64)
    )


# ----------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "name, options",
    [
        ("comma.csv", {}),
        ("semicolon.csv", {"sep": ";"}),
        ("bom.csv", {"bom": True}),
        ("semicolon_bom_index.csv", {"sep": ";", "bom": True, "index_column": True}),
        ("index.csv", {"index_column": True}),
        ("tabs.tsv", {"sep": "\t"}),
        ("packed.csv.gz", {}),
        ("packed_semicolon.csv.gz", {"sep": ";", "bom": True}),
    ],
)
def test_csv_variants_load_identically(wvs_csv, small: SurveyData, name: str, options: dict) -> None:
    path = wvs_csv(name, data=small, **options)
    loaded = load_survey(path)
    assert_same(loaded, small)
    assert loaded.synthetic and loaded.version == "synthetic"
    assert loaded.report.out_of_range == {}
    assert ("leading unnamed index column" in " ".join(loaded.report.notes)) == bool(options.get("index_column"))


def test_gz_is_detected_by_content_not_name(wvs_csv, small: SurveyData, tmp_path: Path) -> None:
    packed = wvs_csv("data.csv.gz", data=small)
    renamed = tmp_path / "data.csv"
    renamed.write_bytes(packed.read_bytes())
    assert_same(load_survey(renamed), small)


def test_quoted_cells_and_crlf_line_ends(small_frame: pd.DataFrame, small: SurveyData, tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    small_frame.to_csv(path, index=False, quoting=1, lineterminator="\r\n")  # QUOTE_ALL
    assert_same(load_survey(path), small)


def test_spss_with_lowercase_names_and_user_missing(
    small_frame: pd.DataFrame, small: SurveyData, tmp_path: Path
) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = small_frame.drop(columns=["version"]).rename(columns=str.lower)
    path = tmp_path / "wvs.sav"
    # negative codes declared as SPSS user-missing values must come back as codes, not NaN
    pyreadstat.write_sav(
        frame, str(path), missing_ranges={c: [{"lo": -5, "hi": -1}] for c in frame.columns if c.startswith("q")}
    )
    loaded = load_survey(path)
    assert_same(loaded, small)
    assert (loaded.frame[loaded.question_ids].to_numpy() == -1).any()
    assert not loaded.synthetic  # no version column: nothing says so


def test_stata_with_lowercase_names(small_frame: pd.DataFrame, small: SurveyData, tmp_path: Path) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    frame = small_frame.rename(columns=str.lower)
    path = tmp_path / "wvs.dta"
    pyreadstat.write_dta(frame, str(path))
    loaded = load_survey(path)
    assert_same(loaded, small)
    assert loaded.synthetic


def test_parquet(small_frame: pd.DataFrame, small: SurveyData, tmp_path: Path) -> None:
    path = tmp_path / "wvs.parquet"
    small_frame.to_parquet(path)
    assert_same(load_survey(path), small)


def test_r_data_file(small_frame: pd.DataFrame, small: SurveyData, tmp_path: Path) -> None:
    pyreadr = pytest.importorskip("pyreadr")
    path = tmp_path / "wvs.rds"
    pyreadr.write_rds(str(path), small_frame)
    assert_same(load_survey(path), small)


def test_directory_of_per_country_files(wvs_csv, small: SurveyData, tmp_path: Path) -> None:
    folder = tmp_path / "countries"
    folder.mkdir()
    for country in ("DEU", "JPN", "NGA"):  # file-name order = concatenation order
        part = small.subset(small.frame.index[small.frame["country"] == country])
        wvs_csv(f"countries/{country}.csv.gz", data=part, index_column=True)
    (folder / "README.txt").write_text("About these files\nDownloaded 2024\n")  # text, but not WVS: skipped
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")  # unsupported extension: not even read
    loaded = load_survey(folder)
    assert any("skipped 1 file(s)" in n and "README.txt" in n for n in loaded.report.notes)
    expected = small.subset([i for c in ("DEU", "JPN", "NGA") for i in small.frame.index[small.frame["country"] == c]])
    assert_same(loaded, expected)
    assert loaded.country_counts() == {"DEU": 8, "JPN": 8, "NGA": 8}
    assert any("3 files concatenated" in n for n in loaded.report.notes)


def test_directory_files_missing_a_question_get_not_asked(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    deu = small_frame[small_frame["B_COUNTRY_ALPHA"] == "DEU"]
    jpn = small_frame[small_frame["B_COUNTRY_ALPHA"] == "JPN"].drop(columns=["Q46"])
    deu.to_csv(folder / "a.csv", index=False)
    jpn.to_csv(folder / "b.csv", index=False)
    loaded = load_survey(folder)
    assert (loaded.frame.loc[loaded.frame["country"] == "JPN", "Q46"] == int(Missing.NOT_ASKED)).all()
    assert any("absent from some of the files" in n for n in loaded.report.notes)


def test_zip_archive(wvs_csv, small: SurveyData, tmp_path: Path) -> None:
    csv_path = wvs_csv("inner.csv", data=small, sep=";")
    archive = tmp_path / "WVS_Cross-National_Wave_7_csv_v6_0.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(csv_path, "WVS_Cross-National_Wave_7_csv_v6_0.csv")
        z.writestr("readme.pdf", b"%PDF")
    assert_same(load_survey(archive), small)


def test_text_labels_are_mapped_to_codes(small_frame: pd.DataFrame, codebook, tmp_path: Path) -> None:
    frame = small_frame.copy()
    q1 = codebook.get("Q1")
    labels = [q1.options[1], q1.options[2].upper(), "Don't know", "banana", ""]
    frame["Q1"] = (labels * 10)[: len(frame)]
    path = tmp_path / "labels.csv"
    frame.to_csv(path, index=False)
    loaded = load_survey(path)
    col = loaded.frame["Q1"].tolist()
    assert col[:5] == [1, 2, -1, -5, -5]
    assert any("banana" in n for n in loaded.report.notes)


# ----------------------------------------------------------------------------- version, columns


def test_version_from_column_and_file_name(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = small_frame.copy()
    frame["version"] = "6-0-0 (2024-04-30)"
    p = tmp_path / "x.csv"
    frame.to_csv(p, index=False)
    assert load_survey(p).version == "6-0-0 (2024-04-30)"
    assert not load_survey(p).synthetic

    p2 = tmp_path / "WVS_Cross-National_Wave_7_csv_v5_0.csv"
    frame.drop(columns=["version"]).to_csv(p2, index=False)
    loaded = load_survey(p2)
    assert loaded.version == "5-0-0"
    assert any("file name" in n for n in loaded.report.notes)

    p3 = tmp_path / "plain.csv"
    frame.drop(columns=["version"]).to_csv(p3, index=False)
    assert load_survey(p3).version == "unknown"


def test_unknown_columns_are_ignored_and_counted(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = small_frame.copy()
    frame["S007"] = 1
    frame["Q33_3"] = 2  # derived recode: not a question
    frame["my_notes"] = "x"
    p = tmp_path / "extra.csv"
    frame.to_csv(p, index=False)
    report = load_survey(p).report
    assert {"S007", "Q33_3", "my_notes", "A_WAVE"} <= set(report.ignored_columns)
    assert "Q1" not in report.ignored_columns and "D_INTERVIEW" not in report.ignored_columns


def test_country_from_numeric_code_when_alpha_missing(
    small_frame: pd.DataFrame, small: SurveyData, tmp_path: Path
) -> None:
    p = tmp_path / "numeric.csv"
    small_frame.drop(columns=["B_COUNTRY_ALPHA"]).to_csv(p, index=False)
    assert_same(load_survey(p), small)


# ----------------------------------------------------------------------------- country filter


@pytest.mark.parametrize("countries", ["DEU", "germany", 276, "276", ["DEU"], ("Germany",)])
def test_country_filter_accepts_codes_and_names(wvs_csv, small: SurveyData, countries) -> None:
    loaded = load_survey(wvs_csv(data=small), countries=countries)
    assert loaded.country_counts() == {"DEU": 8}
    assert loaded.report.rows_filtered_out == 16
    # ids do not depend on the filter
    assert set(loaded.ids) == set(small.frame.index[small.frame["country"] == "DEU"])


def test_country_filter_several(wvs_csv, small: SurveyData) -> None:
    path = wvs_csv(data=small)
    assert load_survey(path, countries="DEU,JPN").country_counts() == {"DEU": 8, "JPN": 8}
    assert load_survey(path, countries=["Nigeria", 392]).country_counts() == {"JPN": 8, "NGA": 8}


def test_country_filter_errors(wvs_csv, small: SurveyData) -> None:
    path = wvs_csv(data=small)
    with pytest.raises(DataError) as absent:
        load_survey(path, countries="FRA")
    assert "FRA" in absent.value.message and "DEU" in (absent.value.hint or "")
    with pytest.raises(DataError) as unknown:
        load_survey(path, countries="Atlantis")
    assert unknown.value.hint


# ----------------------------------------------------------------------------- ids


def test_ids_are_interview_numbers(wvs_csv, small: SurveyData) -> None:
    loaded = load_survey(wvs_csv(data=small))
    first = loaded.ids[0]
    assert first == "276070001"
    assert loaded.respondent(first).country == "DEU"
    assert loaded.respondent(276070001).id == first  # int works too


def test_ids_fall_back_to_country_row_numbers_without_interview_column(
    small_frame: pd.DataFrame, tmp_path: Path
) -> None:
    p = tmp_path / "noid.csv"
    small_frame.drop(columns=["D_INTERVIEW"]).to_csv(p, index=False)
    loaded = load_survey(p)
    countries = small_frame["B_COUNTRY_ALPHA"].tolist()
    expected = [f"{c}-{countries[: i + 1].count(c)}" for i, c in enumerate(countries)]
    assert loaded.ids == expected
    assert loaded.respondent("DEU-3").country == "DEU"
    notes = [n for n in loaded.report.notes if "no D_INTERVIEW column" in n]
    assert len(notes) == 3 and any(n.startswith("DEU (noid.csv)") for n in notes)
    with pytest.raises(UnknownRespondentError) as e:
        loaded.respondent("999")
    assert "DEU-1" in (e.value.hint or "") or "row" in (e.value.hint or "")


def test_duplicated_interview_ids_fall_back_per_country(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = small_frame.copy()
    frame.loc[frame["B_COUNTRY_ALPHA"] == "NGA", "D_INTERVIEW"] = "858069901"  # like URY in v5.0
    frame.loc[0, "D_INTERVIEW"] = ""
    p = tmp_path / "dups.csv"
    frame.to_csv(p, index=False)
    loaded = load_survey(p)
    assert loaded.frame.index.is_unique
    n_nga = int((frame["B_COUNTRY_ALPHA"] == "NGA").sum())
    assert list(loaded.frame.index[loaded.frame["country"] == "NGA"]) == [f"NGA-{i}" for i in range(1, n_nga + 1)]
    assert loaded.ids[0] == f"{frame.loc[0, 'B_COUNTRY_ALPHA']}-1"
    assert loaded.ids[1] == str(frame.loc[1, "D_INTERVIEW"])
    nga = next(n for n in loaded.report.notes if n.startswith("NGA"))
    assert f"{n_nga} of {n_nga} row(s) have a blank or duplicated D_INTERVIEW" in nga and "dups.csv" in nga


def test_ids_do_not_depend_on_how_files_are_combined(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    """A country whose D_INTERVIEW is constant gets the same ids alone, in a folder and in one file."""
    frame = small_frame.copy()
    frame.loc[frame["B_COUNTRY_ALPHA"] == "NGA", "D_INTERVIEW"] = "858069901"
    folder = tmp_path / "wvs7"
    folder.mkdir()
    for c in ("DEU", "JPN", "NGA"):  # NGA sorts last: its rows come after the others in the folder
        frame[frame["B_COUNTRY_ALPHA"] == c].to_csv(folder / f"{c}.csv", index=False)
    frame.to_csv(tmp_path / "all.csv", index=False)
    alone = load_survey(folder / "NGA.csv")
    combined = load_survey(folder)
    whole = load_survey(tmp_path / "all.csv")
    filtered = load_survey(folder, countries=["NGA"])
    ids = alone.ids
    assert ids[0] == "NGA-1" and len(ids) == int((frame["B_COUNTRY_ALPHA"] == "NGA").sum())
    for other in (combined, whole, filtered):
        assert list(other.frame.index[other.frame["country"] == "NGA"]) == ids
        for rid in ids[:3]:
            assert other.respondent(rid).answers == alone.respondent(rid).answers
    assert any(n.startswith("NGA (NGA.csv)") for n in combined.report.notes)


def test_assign_ids_keeps_ids_unique() -> None:
    # "7" is shared within DEU, so those rows fall back to DEU-<n>; "5" in two countries is
    # qualified with the country instead of colliding
    ids, fallback = assign_ids(pd.Series(["2", "7", "7", "5", "5"]), pd.Series(["DEU"] * 4 + ["JPN"]))
    assert fallback == {"DEU": 2}
    assert list(ids) == ["2", "DEU-2", "DEU-3", "DEU-5", "JPN-5"]


def test_numeric_interview_ids_lose_the_float_suffix(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = small_frame.copy()
    frame["D_INTERVIEW"] = frame["D_INTERVIEW"].astype(float)
    p = tmp_path / "wvs.parquet"
    frame.to_parquet(p)
    assert load_survey(p).ids[0] == "276070001"


# ----------------------------------------------------------------------------- validation


def test_out_of_range_codes_are_reported_and_kept_as_missing(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = small_frame.copy()
    frame.loc[0:2, "Q1"] = 7  # Q1 has codes 1-4
    frame.loc[3, "Q1"] = -9  # not a WVS missing code
    frame.loc[0, "Q262"] = 250  # age outside its range
    frame.loc[1, "Q46"] = np.nan  # blank cell
    frame["Q46"] = frame["Q46"].astype("Float64")
    p = tmp_path / "bad.csv"
    frame.to_csv(p, index=False)
    loaded = load_survey(p)
    assert loaded.report.out_of_range["Q1"] == {7: 3, -9: 1}
    assert loaded.report.out_of_range["Q262"] == {250: 1}
    assert len(loaded) == len(frame)  # nothing dropped
    assert loaded.frame["Q1"].iloc[:4].tolist() == [-5, -5, -5, -5]
    assert loaded.frame["Q46"].iloc[1] == -5
    assert any("Q46 (1)" in n and "blank" in n for n in loaded.report.notes)
    r = loaded.respondent(loaded.ids[0])
    assert r.missing["Q1"] is Missing.MISSING and "Q1" not in r.answers
    assert loaded.report.to_dict()["out_of_range"]["Q1"] == {"7": 3, "-9": 1}


def test_non_integer_cells_are_missing_and_noted(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = small_frame.copy()
    frame["Q2"] = frame["Q2"].astype(float)
    frame.loc[0, "Q2"] = 1.5
    p = tmp_path / "frac.csv"
    frame.to_csv(p, index=False)
    loaded = load_survey(p)
    assert loaded.frame["Q2"].iloc[0] == -5
    assert any("Q2: 1 cell(s) that are not integer codes" in n for n in loaded.report.notes)


def test_clean_codes_uses_question_validity(codebook) -> None:
    q = codebook.get("Q261")  # numeric: birth year
    col = clean_codes(np.array([1950.0, 1890.0, -1.0, np.nan, 2001.0]), q, codebook.missing_codes)
    assert col.codes.tolist() == [1950, -5, -1, -5, 2001]
    assert col.out_of_range == {1890: 1}
    assert col.blank == 1


def test_codes_too_large_for_int16_use_int32(small_frame: pd.DataFrame, codebook) -> None:
    raw = {
        "sections": [{"id": "s", "title": "S"}],
        "questions": [
            {"id": "Q1", "text": "t", "kind": "nominal", "section": "s", "options": {"1": "a", "40001": "b"}},
        ],
    }
    custom = codebook_from_dict(raw)
    frame = small_frame[["version", "B_COUNTRY_ALPHA", "D_INTERVIEW"]].assign(Q1=[1, 40001] * 12)
    data = survey_from_frames(frame, codebook=custom)
    assert data.frame["Q1"].dtype == np.int32
    assert data.frame["Q1"].tolist()[:2] == [1, 40001]


def test_codes_are_int16_and_frame_matches_the_core_contract(wvs_csv, small: SurveyData) -> None:
    loaded = load_survey(wvs_csv(data=small))
    assert loaded.frame.index.is_unique and loaded.frame.index.name == "id"
    assert set(loaded.frame[loaded.question_ids].dtypes) == {np.dtype(np.int16)}
    assert loaded.frame.columns[0] == "country"
    assert loaded.report.n_rows == len(small)


# ----------------------------------------------------------------------------- user errors


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        load_survey(tmp_path / "nope.csv")
    assert "No such file" in e.value.message and e.value.hint


def test_directory_of_only_non_wvs_files_explains_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "b.csv").write_text("u,v\n1,2\n")
    with pytest.raises(DataError) as e:
        load_survey(tmp_path)
    assert "a.csv is not a WVS-7 file" in e.value.message


def test_directory_without_data_files(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    with pytest.raises(DataError) as e:
        load_survey(tmp_path)
    assert "contains no survey data files" in e.value.message and "a.pdf" in e.value.message


def test_not_a_wvs_file(tmp_path: Path) -> None:
    p = tmp_path / "iris.csv"
    p.write_text("sepal_length,sepal_width,species\n5.1,3.5,setosa\n")
    with pytest.raises(DataError) as e:
        load_survey(p)
    msg = e.value.message
    assert "not a WVS-7 file" in msg and "Q1" in msg and "B_COUNTRY_ALPHA" in msg and "sepal_length" in msg
    assert e.value.hint


def test_questions_without_country_column(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    p = tmp_path / "nocountry.csv"
    small_frame.drop(columns=["B_COUNTRY_ALPHA", "B_COUNTRY"]).to_csv(p, index=False)
    with pytest.raises(DataError) as e:
        load_survey(p)
    assert "B_COUNTRY" in e.value.message


def test_corrupt_gzip(wvs_csv, small: SurveyData, tmp_path: Path) -> None:
    good = wvs_csv("good.csv.gz", data=small).read_bytes()
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(good[: len(good) // 2])  # truncated download
    with pytest.raises(DataError) as e:
        load_survey(bad)
    assert "bad.csv.gz" in e.value.message and e.value.hint


def test_gzip_of_garbage(tmp_path: Path) -> None:
    p = tmp_path / "junk.csv.gz"
    p.write_bytes(b"\x1f\x8b\x08\x00garbage that is not deflate")
    with pytest.raises(DataError):
        load_survey(p)


def test_binary_file_with_csv_name(tmp_path: Path) -> None:
    p = tmp_path / "binary.csv"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError) as e:
        load_survey(p)
    assert "binary" in e.value.message


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(DataError) as e:
        load_survey(p)
    assert "empty" in e.value.message


def test_unsupported_extension(tmp_path: Path) -> None:
    p = tmp_path / "wvs.xlsx"
    p.write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError) as e:
        load_survey(p)
    assert "Unsupported file type" in e.value.message and ".sav" in (e.value.hint or "")


@pytest.mark.parametrize("suffix", [".sav", ".dta", ".parquet", ".zip"])
def test_corrupt_binary_formats(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"broken{suffix}"
    p.write_bytes(b"this is not really a data file" * 10)
    with pytest.raises(DataError) as e:
        load_survey(p)
    assert str(p.name) in e.value.message


def test_header_only_file_is_an_error(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    """Issue 11: a header without data rows is not "0 respondents, fine" but a clear error."""
    p = tmp_path / "header.csv"
    small_frame.iloc[:0].to_csv(p, index=False)
    with pytest.raises(DataError, match="no respondents: a header but no data rows"):
        load_survey(p)


def test_gzip_module_roundtrip_matches(small_frame: pd.DataFrame, small: SurveyData, tmp_path: Path) -> None:
    """A .gz written by another tool (gzip module, max compression) reads the same."""
    p = tmp_path / "other.csv.gz"
    with gzip.open(p, "wt", compresslevel=9) as fh:
        small_frame.to_csv(fh, index=False)
    assert_same(load_survey(p), small)


def test_latin1_file_and_line_breaks_inside_quoted_text(
    small_frame: pd.DataFrame, small: SurveyData, tmp_path: Path
) -> None:
    frame = small_frame.copy()
    frame.insert(4, "Partyname", ["Partido Socialista\nObrero Español"] * len(frame))  # ignored column
    p = tmp_path / "latin1.csv"
    frame.to_csv(p, index=False, encoding="latin-1")
    loaded = load_survey(p)
    assert_same(loaded, small)
    assert "Partyname" in loaded.report.ignored_columns


def test_country_specific_codes_are_not_out_of_range(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    """Q272 (language at home) holds codes of the WVS language list the codebook cannot all name:
    they are classified as country-specific codes, not as errors; other items stay strict."""
    cb = load_codebook()
    assert cb.get("Q272").open_codes and not cb.get("Q46").open_codes
    frame = small_frame.copy()
    frame.loc[frame.index[:4], "Q272"] = 30  # a real language code without an English label
    frame.loc[frame.index[4], "Q272"] = -7  # not a WVS missing code: still an error
    frame.loc[frame.index[:2], "Q46"] = 9
    p = tmp_path / "lang.csv"
    frame.to_csv(p, index=False)
    loaded = load_survey(p)
    assert loaded.report.unlabelled_codes == {"Q272": {30: 4}}
    assert loaded.report.out_of_range == {"Q272": {-7: 1}, "Q46": {9: 2}}
    assert not loaded.respondent(loaded.ids[0]).has("Q272")  # stored as missing, never shown to a model
    assert loaded.report.to_dict()["unlabelled_codes"] == {"Q272": {"30": 4}}
