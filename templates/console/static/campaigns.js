// Campaign pages: a live example of the code pattern, discount fields of the chosen type only,
// and a progress bar that follows a job. Every page works without this file.
(function () {
  "use strict";

  function debounce(run, wait) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(run, wait);
    };
  }

  function text(tag, className, content) {
    var element = document.createElement(tag);
    if (className) {
      element.className = className;
    }
    element.textContent = content;
    return element;
  }

  // The code preview: the server draws examples with the same rules as createCampaign.
  function codePreview(shape) {
    var form = shape.closest("form");
    var target = document.getElementById("code-preview");
    var names = ["codes.mode", "codes.pattern", "codes.length", "codes.prefix", "codes.suffix",
      "codes.charset", "plannedCodes"];
    var sequence = 0;
    var refresh = debounce(function () {
      var query = new URLSearchParams();
      names.forEach(function (name) {
        var input = form.elements[name];
        if (input && input.value !== "") {
          query.set(name, input.value);
        }
      });
      if (form.elements["codes.luhn"] && form.elements["codes.luhn"].checked) {
        query.set("codes.luhn", "1");
      }
      var mine = ++sequence;
      fetch(shape.getAttribute("data-preview-url") + "?" + query.toString(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (preview) {
        if (!preview || mine !== sequence) {
          return;
        }
        target.textContent = "";
        if (preview.problems.length) {
          preview.problems.forEach(function (problem) {
            target.appendChild(text("p", "preview-advice", problem.message.charAt(0).toUpperCase() +
              problem.message.slice(1) + " (" + problem.code + ")"));
          });
          return;
        }
        target.appendChild(text("p", "preview-label", "Example codes"));
        var examples = text("p", "examples", "");
        preview.examples.forEach(function (example) {
          examples.appendChild(text("code", "", example));
          examples.appendChild(document.createTextNode(" "));
        });
        target.appendChild(examples);
        target.appendChild(text("p", "preview-space", preview.space.toLocaleString("en") +
          " possible codes; a campaign may use up to " + preview.most.toLocaleString("en") +
          " of them (1 %), so codes stay hard to guess."));
        if (preview.advice) {
          var advice = text("p", "preview-advice", " " + preview.advice);
          advice.insertBefore(text("strong", "", "CODE_SPACE_TOO_SMALL:"), advice.firstChild);
          target.appendChild(advice);
        }
      }).catch(function () { /* the server-drawn example stays */ });
    }, 350);
    names.concat(["codes.luhn"]).forEach(function (name) {
      var input = form.elements[name];
      if (input) {
        input.addEventListener("input", refresh);
        input.addEventListener("change", refresh);
      }
    });
  }

  // Only the amounts of the chosen discount type can be typed in (disabled ones are not sent).
  function discountFields(form) {
    var type = form.elements["discount.type"];
    if (!type) {
      return;
    }
    function show() {
      form.querySelectorAll("[data-discount]").forEach(function (input) {
        var wanted = input.getAttribute("data-discount") === type.value;
        input.disabled = !wanted;
        input.closest(".field").hidden = !wanted;
      });
    }
    type.addEventListener("change", show);
    show();
  }

  // A job's page: polls its JSON and moves the bar; reloads once it is done for the links.
  function followJob(job) {
    var bar = document.getElementById("job-progress");
    var line = document.getElementById("job-text");
    var label = job.querySelector(".job-label");
    function poll() {
      fetch(job.getAttribute("data-job-url"), {
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (figures) {
        if (!figures) {
          setTimeout(poll, 3000);
          return;
        }
        bar.max = Math.max(figures.total, 1);
        bar.value = figures.done;
        bar.textContent = figures.percent + " %";
        line.textContent = "";
        line.appendChild(text("strong", "", figures.text));
        line.appendChild(document.createTextNode(" · " + figures.percent + " % · " +
          figures.status.charAt(0) + figures.status.slice(1).toLowerCase()));
        if (figures.status === "RUNNING") {
          label.textContent = "Generating";
        }
        if (figures.finished) {
          window.location.reload();
          return;
        }
        setTimeout(poll, 700);
      }).catch(function () {
        setTimeout(poll, 3000);
      });
    }
    if (job.getAttribute("data-finished") !== "true") {
      setTimeout(poll, 300);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var shape = document.querySelector("[data-preview-url]");
    if (shape) {
      codePreview(shape);
      discountFields(shape.closest("form"));
    }
    var job = document.querySelector("[data-job-url]");
    if (job) {
      followJob(job);
    }
  });
})();
