import html.parser
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from infoplane.report import flatten_summary, metrics_excerpt, write_report
from synthetic_runs import make_run, synthetic_metrics

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if shutil.os.path.exists("/usr/bin/chromium") else None)
EVIL_NAME = 'evil<script>alert("x")</script>'
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class ReferenceCollector(html.parser.HTMLParser):
    """Collect every src/href attribute, every tag name and the text of every style element."""

    def __init__(self):
        super().__init__()
        self.references, self.tags, self.styles, self._in_style = [], [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "data") and value is not None:
                self.references.append(value)
            if name == "style" and value:
                self.styles.append(value)

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "evil<script>run"
    make_run(folder, name=EVIL_NAME, summary={"te_trend": {"rho": -0.4321, "p_value": 0.012}, "note": EVIL_NAME})
    path = write_report([folder])
    return folder, path, path.read_text(encoding="utf-8")


def test_report_written_in_run_folder(report):
    folder, path, _ = report
    assert path == folder / "report.html"


def test_report_makes_no_external_request(report):
    _, _, page = report
    collector = ReferenceCollector()
    collector.feed(page)
    assert collector.references, "no src or href found"
    for reference in collector.references:
        assert reference.startswith("data:image/"), reference[:80]
        assert not EXTERNAL.match(reference)
    for style in collector.styles:
        assert "url(" not in style
        assert "@import" not in style
    assert "script" not in collector.tags
    assert "link" not in collector.tags


def test_report_escapes_run_name(report):
    _, _, page = report
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "evil&lt;script&gt;run" in page


def test_report_embeds_every_figure(report):
    folder, _, page = report
    images = sorted(path.name for path in (folder / "figures").iterdir() if path.suffix in (".png", ".gif"))
    assert len(images) > 20
    for name in images:
        assert f"<figcaption>{name}</figcaption>" in page
    assert page.count('src="data:image/png;base64,') == sum(name.endswith(".png") for name in images)
    assert page.count('src="data:image/gif;base64,') == 2


def test_report_has_config_metrics_summary_definitions(report):
    _, _, page = report
    assert '<td class="key">model.widths</td><td>[10, 7, 5, 4, 3]</td>' in page
    assert '<td class="key">te_trend.rho</td><td>-0.4321</td>' in page
    assert "<h2>Definitions</h2>" in page
    last = synthetic_metrics(0).iloc[-1]
    assert f"<td>{last.test_accuracy:.4g}</td>" in page


def test_metrics_excerpt_keeps_first_and_last():
    metrics = synthetic_metrics(0).iloc[:0].reindex(range(8000))
    metrics["epoch"] = np.arange(1, 8001)
    excerpt = metrics_excerpt(metrics, n_rows=20)
    assert excerpt["epoch"].iloc[0] == 1
    assert excerpt["epoch"].iloc[-1] == 8000
    assert len(excerpt) <= 20


def test_flatten_summary_paths():
    summary = {"a": {"b": 1.5, "c": [1, 2]}, "runs": [{"d": True}]}
    assert flatten_summary(summary) == [("a.b", 1.5), ("a.c", [1, 2]), ("runs.0.d", True)]


def test_several_runs_need_out(tmp_path):
    first, second = make_run(tmp_path / "a", seed=1), make_run(tmp_path / "b", seed=2)
    with pytest.raises(ValueError, match="2 run folders given but no output folder; pass --out DIR"):
        write_report([first, second])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed: the browser test of report.html is skipped "
                                             "(install the Debian package chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    _, path, _ = report
    screenshot = tmp_path / "report.png"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000", f"--screenshot={screenshot}",
               path.as_uri()]
    subprocess.run(command, check=True, timeout=120, capture_output=True)
    with Image.open(screenshot) as image:
        assert image.size == (1280, 2000)
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.std() > 20, "the screenshot looks blank"
    assert (pixels < 128).mean() > 0.01, "the screenshot has almost no dark pixels (text or figures)"
