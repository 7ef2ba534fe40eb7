// inovasi web: evidence uploads with a progress bar. Each `form[data-upload]` also works
// without this script (a multipart form post); with it, the file's bytes are sent as the
// request body to the form's `data-upload` address (XMLHttpRequest, for upload progress
// events), the CSRF token in X-CSRF-Token, and the new item is added to the indicator's
// list without reloading the page (so unsaved answers stay as they are).
(function () {
  "use strict";
  if (!window.XMLHttpRequest || !window.FormData || !("upload" in new XMLHttpRequest())) { return; }

  function sizeLabel(bytes) {
    if (bytes >= 1000000) { return (Math.round(bytes / 100000) / 10).toString().replace(".", ",") + " MB"; }
    if (bytes >= 1000) { return Math.round(bytes / 1000) + " KB"; }
    return bytes + " B";
  }

  function parse(text) {
    try { return JSON.parse(text); } catch (ignored) { return null; }
  }

  function failureMessage(xhr, body) {
    if (body && body.message) { return body.message; }
    if (xhr.responseURL && xhr.responseURL.indexOf("/login") !== -1) {
      return "Sesi Anda telah berakhir. Masuk lagi, lalu unggah ulang.";
    }
    if (xhr.status === 403) { return "Formulir kedaluwarsa. Muat ulang halaman, lalu unggah ulang."; }
    if (xhr.status === 413) { return "Berkas terlalu besar."; }
    if (xhr.status === 503 || xhr.status === 0) { return "Layanan sedang tidak tersedia. Coba lagi sebentar lagi."; }
    return "Unggahan gagal (kode " + xhr.status + "). Coba lagi.";
  }

  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    var input = form.querySelector('input[type="file"]');
    var token = form.querySelector('input[name="csrf_token"]');
    var button = form.querySelector('button[type="submit"]');
    var progressBox = form.querySelector("[data-upload-progress]");
    var progress = progressBox && progressBox.querySelector("progress");
    var percent = form.querySelector("[data-upload-percent]");
    var status = form.querySelector("[data-upload-status]");
    var error = form.querySelector("[data-upload-error]");
    var list = document.getElementById(form.getAttribute("data-list"));
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
    if (!input || !token || !status || !error || !progress || !button) { return; }
    var described = input.getAttribute("aria-describedby") || "";

    function showError(message) {
      error.textContent = message;
      error.hidden = false;
      status.textContent = "";
      form.classList.add("field-invalid");
      input.setAttribute("aria-invalid", "true");
      if (described.indexOf(error.id) === -1) { input.setAttribute("aria-describedby", (described + " " + error.id).trim()); }
      input.focus();
    }

    function clearError() {
      error.textContent = "";
      error.hidden = true;
      form.classList.remove("field-invalid");
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", described.replace(error.id, "").trim());
    }

    function busy(on) {
      button.disabled = on;
      input.disabled = on;
      form.setAttribute("aria-busy", on ? "true" : "false");
    }

    function setProgress(value) {
      progress.value = value;
      percent.textContent = value + "%";
    }

    function addItem(item) {
      if (!list) { return; }
      var li = document.createElement("li");
      li.className = "evidence-item";
      li.setAttribute("data-evidence", item.id);
      li.setAttribute("data-state", item.state);
      var badge = document.createElement("span");
      badge.className = "badge badge-" + item.state;
      badge.setAttribute("data-state", item.state);
      badge.textContent = item.state_label;
      var link = document.createElement("a");
      link.href = item.file_url;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = "Berkas baru, " + item.size_label;
      li.appendChild(badge);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(link);
      list.appendChild(li);
      list.removeAttribute("data-empty");
      var none = list.parentElement.querySelector(".evidence-none");
      if (none) { none.hidden = true; }
    }

    form.addEventListener("submit", function (event) {
      var file = input.files && input.files[0];
      if (!file) {
        event.preventDefault();
        showError("Pilih berkas yang akan diunggah.");
        return;
      }
      event.preventDefault();
      clearError();
      if (maxBytes && file.size > maxBytes) {
        showError("Berkas melebihi batas " + form.getAttribute("data-max-label") + ".");
        return;
      }
      var xhr = new XMLHttpRequest();
      var lastSaid = -1;
      xhr.open("POST", form.getAttribute("data-upload"));
      xhr.setRequestHeader("X-CSRF-Token", token.value);
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        var value = Math.floor(e.loaded / e.total * 100);
        setProgress(value);
        var step = Math.floor(value / 25) * 25;  // say it now and then, not at every percent
        if (step !== lastSaid) {
          lastSaid = step;
          status.textContent = "Mengunggah " + file.name + ": " + value + "% dari " + sizeLabel(file.size);
        }
      });
      xhr.upload.addEventListener("load", function () {
        setProgress(100);
        status.textContent = "Berkas terkirim; sedang diperiksa…";
      });
      xhr.addEventListener("load", function () {
        busy(false);
        var body = parse(xhr.responseText);
        if (xhr.status === 201 && body && body.id) {
          addItem(body);
          status.textContent = body.message || "Data dukung diunggah.";
          form.reset();
          progressBox.hidden = true;
        } else {
          progressBox.hidden = true;
          showError(failureMessage(xhr, body));
        }
      });
      xhr.addEventListener("error", function () {
        busy(false);
        progressBox.hidden = true;
        showError("Koneksi terputus saat mengunggah. Periksa jaringan, lalu coba lagi.");
      });
      busy(true);
      setProgress(0);
      progressBox.hidden = false;
      status.textContent = "Mulai mengunggah " + file.name + "…";
      xhr.send(file);
    });
  });
})();
