"""Per-MIME comparison: streams coalesced, HTML tables by value, images by pixels."""

from __future__ import annotations

import base64
import io

import pytest

from nb2pipe.model import Output
from nb2pipe.verify.compare import CompareOptions, compare_outputs
from nb2pipe.verify.images import compare_images
from nb2pipe.verify.tables import compare_html_tables, read_html_tables


def out_stream(text: str, name: str = "stdout") -> Output:
    return Output("stream", name=name, text=text)


def out_data(**data: str) -> Output:
    return Output("display_data", data={k.replace("_", "/", 1): v for k, v in data.items()})


# ---- streams ------------------------------------------------------------------------------


def test_stdout_split_into_several_streams_compares_as_one() -> None:
    saved = [out_stream("alpha=0.1\nalpha=1.0\n"), out_stream("alpha=10\n")]
    fresh = [out_stream("alpha=0.1\n"), out_stream("alpha=1.0\nalpha=10\n")]
    assert compare_outputs(saved, fresh).equal


def test_stdout_and_stderr_interleaving_does_not_matter() -> None:
    saved = [out_stream("a\n"), out_stream("warn\n", "stderr"), out_stream("b\n")]
    fresh = [out_stream("warn\n", "stderr"), out_stream("a\nb\n")]
    assert compare_outputs(saved, fresh).equal


def test_stream_difference_names_the_stream() -> None:
    comparison = compare_outputs([out_stream("a\n")], [out_stream("b\n")])
    assert [d.what for d in comparison.differences] == ["stdout"]
    assert "-a" in comparison.differences[0].diff and "+b" in comparison.differences[0].diff


def test_missing_output_is_a_difference() -> None:
    saved = [out_stream("a\n"), out_data(text_plain="<Figure>", image_png="AAAA")]
    comparison = compare_outputs(saved, [out_stream("a\n")])
    assert comparison.differences[0].what == "outputs"
    assert "2 saved output(s)" in comparison.differences[0].message


def test_missing_mime_type_is_a_difference() -> None:
    comparison = compare_outputs(
        [out_data(text_plain="x", text_html="<b>x</b>")], [out_data(text_plain="x")]
    )
    assert [d.what for d in comparison.differences] == ["text/html"]


def test_widget_views_are_not_compared() -> None:
    saved = [
        out_data(
            text_plain="HBox()",
            **{"application_vnd.jupyter.widget-view+json": '{"model_id": "a1"}'},
        )
    ]
    fresh = [
        out_data(
            text_plain="HBox()",
            **{"application_vnd.jupyter.widget-view+json": '{"model_id": "b2"}'},
        )
    ]
    assert compare_outputs(saved, fresh).equal


def test_errors_compare_by_name_and_message_not_traceback() -> None:
    saved = [Output("error", ename="KeyError", evalue="'x'", traceback=("line 1", "KeyError"))]
    same = [Output("error", ename="KeyError", evalue="'x'", traceback=("line 7", "KeyError"))]
    other = [Output("error", ename="KeyError", evalue="'y'", traceback=())]
    assert compare_outputs(saved, same).equal
    assert not compare_outputs(saved, other).equal


def test_svg_ids_that_change_per_render_are_normalized() -> None:
    saved = (
        '<svg><clipPath id="p1a2b3c4d5e"/>'
        '<use xlink:href="#p1a2b3c4d5e" clip-path="url(#p1a2b3c4d5e)"/></svg>'
    )
    fresh = saved.replace("p1a2b3c4d5e", "p9f8e7d6c5b")
    assert compare_outputs([out_data(image_svg="x")], [out_data(image_svg="x")]).equal
    comparison = compare_outputs(
        [Output("display_data", data={"image/svg+xml": saved})],
        [Output("display_data", data={"image/svg+xml": fresh})],
    )
    assert comparison.equal and "markup ids" in comparison.normalizers


# ---- HTML tables --------------------------------------------------------------------------

pd = pytest.importorskip("pandas")


def test_pandas_table_compared_by_value_not_markup() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.5], "b": ["x", "y"]})
    saved = frame.to_html()
    # another pandas version / option set: a <style> block, other attributes, no border
    fresh = (
        "<div><style scoped>.dataframe td {color: red}</style>"
        + frame.to_html(border=0, classes="dataframe x")
        + "</div>"
    )
    outcome = compare_html_tables(saved, fresh, rtol=1e-6)
    assert outcome.equal and "HTML tables by value" in outcome.normalizers


def test_pandas_table_value_change_is_found() -> None:
    saved = pd.DataFrame({"a": [1.0, 2.5]}).to_html()
    fresh = pd.DataFrame({"a": [1.0, 2.6]}).to_html()
    outcome = compare_html_tables(saved, fresh, rtol=1e-6)
    assert not outcome.equal
    assert "-  | 1 | 2.5" in outcome.diff and "+  | 1 | 2.6" in outcome.diff


def test_pandas_table_floats_within_rtol() -> None:
    saved = pd.DataFrame({"a": [0.1 + 0.2]}).to_html(float_format=lambda v: repr(v))
    fresh = pd.DataFrame({"a": [0.3]}).to_html(float_format=lambda v: repr(v))
    assert compare_html_tables(saved, fresh, rtol=1e-6).equal


def test_table_shape_and_caption_text_matter() -> None:
    saved = "<table><tr><td>1</td></tr></table><p>1 rows × 1 columns</p>"
    assert not compare_html_tables(
        saved, "<table><tr><td>1</td><td>2</td></tr></table><p>1 rows × 1 columns</p>", 0
    ).equal
    assert not compare_html_tables(
        saved, "<table><tr><td>1</td></tr></table><p>2 rows × 1 columns</p>", 0
    ).equal


def test_styler_tables_with_random_ids_compare_equal() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    saved = frame.style.set_uuid("1a2b3").highlight_max().to_html()
    fresh = frame.style.set_uuid("9f8e7").highlight_max().to_html()
    assert saved != fresh
    assert compare_outputs(
        [Output("execute_result", data={"text/html": saved})],
        [Output("execute_result", data={"text/html": fresh})],
    ).equal


def test_read_html_tables_reads_header_and_index() -> None:
    tables = read_html_tables(pd.DataFrame({"a": [1]}, index=["r"]).to_html())
    assert tables.tables == [[["", "a"], ["r", "1"]]]


# ---- images ---------------------------------------------------------------------------------

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def _png(draw: object, dpi: int = 50, optimize: bool = False) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    draw(ax)  # type: ignore[operator]
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    if optimize:  # same pixels, other bytes: re-encode with another zlib level
        from PIL import Image

        image = Image.open(io.BytesIO(buffer.getvalue()))
        buffer = io.BytesIO()
        image.save(buffer, format="png", optimize=True, compress_level=9)
    return base64.b64encode(buffer.getvalue()).decode()


def _bars(heights: list[float]) -> object:
    return lambda ax: ax.bar(range(len(heights)), heights, color="tab:purple")


def test_matplotlib_figure_rendered_again_is_equal() -> None:
    first, second = _png(_bars([3, 1, 2])), _png(_bars([3, 1, 2]))
    assert compare_images(first, second).equal


def test_same_pixels_other_png_bytes_are_equal() -> None:
    first, second = _png(_bars([3, 1, 2])), _png(_bars([3, 1, 2]), optimize=True)
    assert first != second
    outcome = compare_images(first, second)
    assert outcome.equal and "0.00%" in outcome.message


def test_changed_plot_differs() -> None:
    outcome = compare_images(_png(_bars([3, 1, 2])), _png(_bars([1, 3, 2])))
    assert not outcome.equal
    assert "above the 1.00% tolerance" in outcome.message


def test_changed_curve_or_title_differs_though_the_whole_image_mean_is_small() -> None:
    import numpy as np

    x = np.linspace(0, 10, 100)
    sine = _png(lambda ax: ax.plot(x, np.sin(x)), dpi=100)
    cosine = _png(lambda ax: ax.plot(x, 1.1 * np.sin(x)), dpi=100)
    outcome = compare_images(sine, cosine)
    assert not outcome.equal
    assert "mean absolute pixel difference 0." in outcome.message  # whole image: under 1%
    titled = [
        _png(lambda ax, t=t: ax.set_title(f"accuracy {t}"), dpi=100) for t in ("0.91", "0.93")
    ]
    assert not compare_images(*titled).equal


def test_image_of_other_size_differs() -> None:
    outcome = compare_images(_png(_bars([3, 1, 2])), _png(_bars([3, 1, 2]), dpi=60))
    assert not outcome.equal and "size differs" in outcome.message


def test_image_tolerance_is_configurable() -> None:
    first, second = _png(_bars([3, 1, 2])), _png(_bars([1, 3, 2]))
    assert compare_images(first, second, tolerance=0.5).equal


def test_undecodable_image_differs_without_crashing() -> None:
    outcome = compare_images("bm90IGFuIGltYWdl", "AAAA")
    assert not outcome.equal and "cannot decode" in outcome.message


def test_image_outputs_in_cells_compare_by_pixels() -> None:
    saved = [
        Output(
            "display_data",
            data={
                "image/png": _png(_bars([3, 1, 2])),
                "text/plain": "<Figure size 400x300 with 1 Axes>",
            },
        )
    ]
    same = [
        Output(
            "display_data",
            data={
                "image/png": _png(_bars([3, 1, 2]), optimize=True),
                "text/plain": "<Figure size 400x300 with 1 Axes>",
            },
        )
    ]
    changed = [
        Output(
            "display_data",
            data={
                "image/png": _png(_bars([1, 3, 2])),
                "text/plain": "<Figure size 400x300 with 1 Axes>",
            },
        )
    ]
    assert compare_outputs(saved, same, CompareOptions()).equal
    comparison = compare_outputs(saved, changed, CompareOptions())
    assert [d.what for d in comparison.differences] == ["image/png"]


def test_script_stdout_of_shell_cells_is_compared_word_by_word() -> None:
    """`!ls` lays names out in columns on the kernel's pty, one a line on the script's pipe."""
    from nb2pipe.model import Cell, CellKind
    from nb2pipe.verify.script import _first_difference, _Line

    shell = Cell(index=0, kind=CellKind.CODE, source="!ls")
    plain = Cell(index=1, kind=CellKind.CODE, source="print(1)")
    expected = [_Line(shell, "a.csv  b.csv", False, True), _Line(plain, "1", False)]
    assert _first_difference(expected, ["a.csv", "b.csv", "1"], 1e-6) is None
    assert _first_difference(expected, ["a.csv", "c.csv", "1"], 1e-6) == 0
    assert _first_difference(expected, ["a.csv", "b.csv", "2"], 1e-6) == 1
    assert _first_difference(expected, ["a.csv", "b.csv"], 1e-6) == 1
    # outside shell cells the layout still counts
    assert _first_difference([_Line(plain, "1 2", False)], ["1", "2"], 1e-6) == 0


def test_a_table_differing_only_in_numbers_says_by_how_much() -> None:
    saved = pd.DataFrame({"a": [1.0, 2.5], "b": ["x", "y"]}).to_html()
    fresh = pd.DataFrame({"a": [1.0002, 2.5], "b": ["x", "y"]}).to_html()
    outcome = compare_html_tables(saved, fresh, rtol=1e-6)
    assert not outcome.equal and outcome.drift == pytest.approx(2e-4, rel=1e-3)
    # a word that changed is not a matter of digits
    other = pd.DataFrame({"a": [1.0002, 2.5], "b": ["x", "z"]}).to_html()
    assert compare_html_tables(saved, other, rtol=1e-6).drift is None


def test_streams_differing_only_in_numbers_say_by_how_much() -> None:
    saved = [out_stream("coef 9.1916  se 0.876\nsigma2 1.0748\n")]
    fresh = [out_stream("coef 9.1917  se 0.876\nsigma2 1.0748\n")]
    comparison = compare_outputs(saved, fresh, CompareOptions(rtol=1e-6))
    assert comparison.drift == pytest.approx(0.0001 / 9.1917)
    for changed in ("coef 9.1917  se nan\nsigma2 1.0748\n", "coef 9.1917  SE 0.876\nsigma2 1.0748\n"):
        assert compare_outputs(saved, [out_stream(changed)], CompareOptions()).drift is None
