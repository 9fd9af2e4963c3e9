"""A download button that works in Solara's Vuetify 3 front-end (Solara's own FileDownload
renders no button there): the data is made on the server only when the button is clicked."""

from __future__ import annotations

import ipyvuetify as v
import traitlets

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
