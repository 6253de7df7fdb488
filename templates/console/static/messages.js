// Message pages: the template editor's live preview (the server renders the draft with sample
// data and lists the problems saving it would report), and a distribution's progress and
// delivery figures. Every page works without this file.
(function () {
  "use strict";

  function debounce(run, wait) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(run, wait);
    };
  }

  function channelOf(form) {
    var chosen = form.querySelector("input[name=channel]:checked");
    return chosen ? chosen.value : "EMAIL";
  }

  function showChannel(form) {
    var sms = channelOf(form) === "SMS";
    document.querySelectorAll(".email-only, .email-preview").forEach(function (part) {
      part.hidden = sms;
    });
    document.querySelectorAll(".sms-preview").forEach(function (part) {
      part.hidden = !sms;
    });
    var label = form.querySelector("label[for=text]");
    if (label) {
      label.textContent = sms ? "SMS text" : "Plain-text part";
    }
  }

  function showProblems(form, problems) {
    var byField = {};
    problems.forEach(function (problem) {
      var name = problem.field || "";
      (byField[name] = byField[name] || []).push(problem.message + " (" + problem.code + ")");
    });
    form.querySelectorAll("[data-live-error]").forEach(function (target) {
      var name = target.getAttribute("data-live-error");
      var field = form.querySelector("[data-field='" + name + "']");
      var input = document.getElementById(name);
      var found = byField[name];
      // The server's errors of the last submit give way to the live ones.
      if (field) {
        field.querySelectorAll(".field-error:not(.live-error)").forEach(function (old) {
          old.hidden = true;
        });
        field.classList.toggle("field-has-error", Boolean(found));
      }
      target.textContent = found ? found.join(" ") : "";
      target.hidden = !found;
      if (input) {
        if (found) {
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
        }
      }
    });
  }

  function editor(form) {
    var sequence = 0;
    var state = document.getElementById("preview-state");
    var refresh = debounce(function () {
      var mine = ++sequence;
      fetch(form.getAttribute("data-preview-url"), {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (preview) {
        if (!preview || mine !== sequence) {
          return;
        }
        showProblems(form, preview.problems);
        state.textContent = preview.problems.length
          ? preview.problems.length + (preview.problems.length === 1 ? " problem" : " problems") +
            " to fix before saving."
          : "Ready to save.";
        if (!preview.rendered) {
          return;
        }
        document.getElementById("preview-subject").textContent = preview.subject;
        document.getElementById("preview-html").srcdoc = preview.html;
        document.getElementById("preview-text").textContent = preview.text;
        document.getElementById("preview-sms").textContent = preview.text;
        document.getElementById("sms-characters").textContent =
          preview.sms.characters.toLocaleString("en");
        document.getElementById("sms-segments").textContent =
          preview.sms.segments.toLocaleString("en");
        document.getElementById("sms-encoding").textContent = preview.sms.encoding || "—";
      }).catch(function () { /* the last preview stays */ });
    }, 400);
    form.addEventListener("input", refresh);
    form.addEventListener("change", function () {
      showChannel(form);
      refresh();
    });
  }

  function distribution(box) {
    var source = box.getAttribute("data-json-url");
    var poll = function () {
      fetch(source, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          return response.ok ? response.json() : null;
        }).then(function (figures) {
          if (!figures) {
            return;
          }
          var bar = document.getElementById("job-progress");
          bar.max = Math.max(figures.total, 1);
          bar.value = figures.done;
          document.getElementById("job-text").textContent =
            figures.text + " · " + figures.percent + " % · " +
            figures.status.charAt(0) + figures.status.slice(1).toLowerCase();
          ["published", "queued", "suppressed", "skipped"].forEach(function (name) {
            document.getElementById("count-" + name).textContent =
              figures[name].toLocaleString("en");
          });
          if (figures.finished) {
            document.querySelectorAll(".job-done").forEach(function (part) {
              part.hidden = false;
            });
          } else {
            setTimeout(poll, 1000);
          }
        }).catch(function () {
          setTimeout(poll, 3000);
        });
    };
    if (box.getAttribute("data-finished") !== "true") {
      setTimeout(poll, 500);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-live]");
    if (form) {
      editor(form);
    }
    var box = document.querySelector("[data-json-url]");
    if (box) {
      distribution(box);
    }
  });
})();
