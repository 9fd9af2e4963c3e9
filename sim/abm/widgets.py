"""The explorer's own widgets: a download button that works in Solara's Vuetify 3 front-end
(Solara's own FileDownload renders no button there; the data is made on the server only when the
button is clicked), a file input, and Solara's echarts chart guarded against a race (:class:`Chart`)."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import ipyvuetify as v
import traitlets
from solara.components.echarts import EchartsWidget

_TEMPLATE = """
<template>
  <v-btn :class="css_class" @click="request_download = true" :loading="request_download" variant="outlined" size="small">{{ label }}</v-btn>
</template>
<script>
module.exports = {
  watch: {
    payload(value) {
      if (!value) return;
      const a = document.createElement('a');
      a.download = this.filename;
      a.href = URL.createObjectURL(new Blob([value], {type: this.mime_type}));
      document.body.appendChild(a);
      a.click();
      document.body.removeChild(a);
      this.request_download = false;
    },
  },
};
</script>
"""


class DownloadButton(v.VuetifyTemplate):
    """``producer()`` returns the file's bytes (or text); called on click."""

    template = traitlets.Unicode(_TEMPLATE).tag(sync=True)
    label = traitlets.Unicode("Download").tag(sync=True)
    css_class = traitlets.Unicode("").tag(sync=True)
    filename = traitlets.Unicode("download.dat").tag(sync=True)
    mime_type = traitlets.Unicode("application/octet-stream").tag(sync=True)
    payload = traitlets.Bytes(None, allow_none=True).tag(sync=True)
    request_download = traitlets.Bool(False).tag(sync=True)
    producer = traitlets.Any(None)  # () -> bytes | str, called on click
    on_error = traitlets.Any(None)  # (str) -> None, told when producing fails

    @traitlets.observe("request_download")
    def _requested(self, change: dict) -> None:
        if not change["new"]:
            self.set_trait("payload", None)
            return
        try:
            data = self.producer() if self.producer else b""
        except Exception as e:  # shown as a notice, never a traceback
            self.request_download = False
            if self.on_error:
                self.on_error(f"{self.filename}: {type(e).__name__}: {e}")
            return
        self.payload = data.encode("utf-8") if isinstance(data, str) else data


_FILE_TEMPLATE = """
<template>
  <label :class="css_class" style="display: block; font-size: 13px; margin: 4px 0">{{ label }}
    <input type="file" :accept="accept" @change="read" style="display: block; margin-top: 2px" />
  </label>
</template>
<script>
module.exports = {
  methods: {
    read(event) {
      const input = event.target;
      const file = input.files && input.files[0];
      if (!file) return;
      file.arrayBuffer().then(buffer => {
        const bytes = new Uint8Array(buffer);
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        this.upload = {name: file.name, data: btoa(text), at: Date.now()};  // base64: any bytes survive
        input.value = '';  // choosing the same file again is a new upload
      });
    },
  },
};
</script>
"""


class FileInput(v.VuetifyTemplate):
    """A file chooser (an ``<input type=file>``, which browsers and Playwright can fill; Solara's
    FileDrop takes only a real drag). ``receiver({"name", "data"})`` is called with the bytes."""

    template = traitlets.Unicode(_FILE_TEMPLATE).tag(sync=True)
    label = traitlets.Unicode("Load a file").tag(sync=True)
    accept = traitlets.Unicode("").tag(sync=True)
    css_class = traitlets.Unicode("").tag(sync=True)
    upload = traitlets.Dict({}).tag(sync=True)  # {"name", "data" (base64), "at"}, set by the browser
    receiver = traitlets.Any(None)  # ({"name": str, "data": bytes}) -> None

    @traitlets.observe("upload")
    def _uploaded(self, change: dict) -> None:
        info = change["new"] or {}
        if "data" not in info:
            return
        try:
            data = base64.b64decode(str(info["data"]), validate=True)
        except (binascii.Error, ValueError):
            data = b"\xff"  # a garbled upload reads as a binary file: refused by the loader
        if self.receiver:
            self.receiver({"name": str(info.get("name", "scenario.toml")), "data": data})


def _guarded_echarts_template() -> str:
    """Solara's echarts template with two guards and a receipt: its ``create()`` runs when the echarts script has
    loaded, by which time a chart the page has already re-rendered away is gone (``$refs.echarts``
    undefined: "Initialize failed: invalid dom" in the browser's console), and an ``option`` that
    arrives before ``create()`` found no chart to set. Both are skipped instead. Each option drawn
    after that counts up ``drawn``, which Play waits for (the browser's pace, not the server's: a
    large scenario sent rounds faster than the browser drew them and Pause waited for the backlog);
    ``hidden`` follows the page's visibility, since a hidden tab reports its drawing late (its
    timers are throttled) and Play waited up to ``DRAW_WAIT`` a round there.
    The upstream text
    is patched, not copied; if it changes shape the patch is not applied (``PATCHED`` says so, and
    tests/test_explorer.py checks it)."""
    import solara.components.echarts as upstream

    src = Path(upstream.__file__).with_name("echarts.vue").read_text(encoding="utf-8")
    create = "create() {\n      this.chart = this.echarts.init(this.$refs.echarts);"
    watch = "option() {\n      // notMerge"
    drawn = "this.chart.setOption(this.option, true);\n    },"
    mounted = "mounted() {\n"
    destroyed = "beforeDestroy() {\n"
    if any(anchor not in src for anchor in (create, watch, drawn, mounted, destroyed)):
        return src
    src = src.replace(
        mounted,
        mounted + "    this.hidden = document.hidden;  // a hidden tab draws late: Play then does not wait\n"
        "    this.onVisibility = () => { this.hidden = document.hidden; };\n"
        '    document.addEventListener("visibilitychange", this.onVisibility);\n',
        1,
    )
    src = src.replace(destroyed, destroyed + '    document.removeEventListener("visibilitychange", this.onVisibility);\n', 1)
    src = src.replace(create, "create() {\n      if (!this.$refs.echarts) return;  // re-rendered away while echarts loaded" + create[10:])
    counted = "this.chart.setOption(this.option, true);\n      this.drawn = this.drawn + 1;  // Play's pace\n    },"
    src = src.replace(drawn, counted, 1)
    return src.replace(watch, "option() {\n      if (!this.chart) return;  // create() sets the option it finds\n      // notMerge")


_ECHARTS_TEMPLATE = _guarded_echarts_template()
PATCHED = all(
    mark in _ECHARTS_TEMPLATE for mark in ("re-rendered away while echarts loaded", "this.drawn = this.drawn + 1", "visibilitychange")
)


class Chart(EchartsWidget):
    """Solara's ``EchartsWidget`` with the guarded template (:func:`_guarded_echarts_template`)."""

    template_file = None  # type: ignore[assignment]  # the template below, not the upstream file
    template = traitlets.Unicode(_ECHARTS_TEMPLATE).tag(sync=True)
    drawn = traitlets.Int(0).tag(sync=True)  # options drawn in the browser since it was created
    hidden = traitlets.Bool(False).tag(sync=True)  # the page is in a hidden tab (drawing is throttled)
