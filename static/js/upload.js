// Chunked, resumable upload for the media library (templates/media/upload.html).
// The server keeps the received offset; after any failure we ask for it and continue.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var fileInput = document.getElementById("upload-file");
  var titleInput = document.getElementById("upload-title");
  var startButton = document.getElementById("upload-start");
  var pauseButton = document.getElementById("upload-pause");
  var box = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var text = document.getElementById("upload-text");
  var paused = false;
  var MAX_RETRIES = 8;

  function say(message) { text.textContent = message; }

  function sizeText(n) {
    if (n >= 1073741824) return (n / 1073741824).toFixed(2) + " GB";
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MB";
    return Math.round(n / 1024) + " KB";
  }

  function show(offset, size) {
    var percent = size ? Math.floor(offset * 1000 / size) / 10 : 0;
    bar.value = percent;
    say("已上传 " + sizeText(offset) + " / " + sizeText(size) + "（" + percent + "%）");
  }

  // The server refuses these too (before any byte is sent); checking here saves a round trip.
  function refusal(file) {
    var extensions = (form.dataset.extensions || "").split(" ");
    var dot = file.name.lastIndexOf(".");
    var ext = dot >= 0 ? file.name.slice(dot + 1).toLowerCase() : "";
    if (extensions.length && extensions[0] && extensions.indexOf(ext) < 0) {
      return "不支持上传“" + file.name + "”：只能上传视频（如 MP4、MOV、MKV）或音频（如 MP3、M4A）文件。";
    }
    if (file.size === 0) return "文件是空的（0 字节），请选择有内容的视频或音频文件。";
    var max = parseInt(form.dataset.maxBytes || "0", 10);
    if (max && file.size > max) return "文件太大：" + sizeText(file.size) + "，单个文件最大 " + sizeText(max) + "。";
    return null;
  }

  function storageKey(file) {
    return "dx-upload:" + file.name + ":" + file.size + ":" + file.lastModified;
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // dx.fetchJSON (site.js) adds the CSRF header and turns the error shape into an Error with a
  // Chinese .message, .code and .status; upload errors also carry the offset to continue from.
  async function call(url, options) {
    try {
      return await window.dx.fetchJSON(url, options);
    } catch (error) {
      var body = error.data && error.data.error;
      if (body && typeof body.offset === "number") error.offset = body.offset;
      throw error;
    }
  }

  function createUpload(file) {
    return call(form.dataset.createUrl, {
      method: "POST",
      body: { filename: file.name, size: file.size, title: titleInput.value }
    });
  }

  function askOffset(statusUrl) {
    return call(statusUrl, { cache: "no-store" });
  }

  function sendChunk(statusUrl, file, offset, chunkSize) {
    return call(statusUrl, {
      method: "PATCH",
      headers: { "Content-Type": "application/octet-stream", "Upload-Offset": String(offset) },
      body: file.slice(offset, Math.min(offset + chunkSize, file.size))
    });
  }

  async function resumeOrCreate(file) {
    var saved = localStorage.getItem(storageKey(file));
    if (saved) {
      try {
        var state = await askOffset(saved);
        if (!state.complete) return state;
      } catch (e) { /* gone: start over */ }
      localStorage.removeItem(storageKey(file));
    }
    var created = await createUpload(file);
    localStorage.setItem(storageKey(file), created.status_url);
    return created;
  }

  async function upload(file) {
    var state = await resumeOrCreate(file);
    var statusUrl = state.status_url;
    var chunkSize = state.chunk_size || parseInt(form.dataset.chunkSize, 10);
    var offset = state.offset;
    var failures = 0;
    show(offset, file.size);
    while (offset < file.size) {
      if (paused) { say("已暂停，点击“继续”从 " + sizeText(offset) + " 处接着上传。"); return null; }
      try {
        state = await sendChunk(statusUrl, file, offset, chunkSize);
        offset = state.offset;
        failures = 0;
        show(offset, file.size);
      } catch (error) {
        if (error.status === 409 && typeof error.offset === "number") {
          if (error.code === "upload_busy") await sleep(1000);
          offset = error.offset;
          continue;
        }
        if (error.status === 404) {
          // Expired (no chunk for too long) or deleted: the next try starts a fresh upload.
          localStorage.removeItem(storageKey(file));
          throw { message: (error.message || "上传任务已不存在") + "（请重新选择文件上传）" };
        }
        var transient = !error.status || error.status >= 500 || error.code === "chunk_incomplete";
        if (!transient) throw error;
        failures += 1;
        if (failures > MAX_RETRIES) throw { message: "网络多次中断，请检查网络后重新选择该文件继续上传。" };
        say("网络中断，" + failures + " 秒后从断点继续……");
        await sleep(1000 * failures);
        try { offset = (await askOffset(statusUrl)).offset; } catch (e) { /* try again next round */ }
      }
    }
    localStorage.removeItem(storageKey(file));
    return state;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var file = fileInput.files[0];
    if (!file) { box.hidden = false; say("请先选择要上传的文件。"); return; }
    var refused = refusal(file);
    if (refused) { box.hidden = false; say(refused); return; }
    paused = false;
    box.hidden = false;
    startButton.disabled = true;
    pauseButton.hidden = false;
    pauseButton.textContent = "暂停";
    try {
      var done = await upload(file);
      if (done) {
        say(done.duplicate ? "该文件已在媒体库中，正在打开……" : "上传完成，正在打开转码进度……");
        window.location.href = done.asset_url;
        return;
      }
    } catch (error) {
      say("上传失败：" + (error.message || error));
    }
    startButton.disabled = false;
    startButton.textContent = "继续上传";
  });

  pauseButton.addEventListener("click", function () {
    paused = true;
    pauseButton.hidden = true;
  });
})();
