// Settings -> Security: Copy and Download (.txt) for the new recovery codes shown once.
// Without JavaScript the buttons stay hidden and the codes are selectable text.
(function () {
  "use strict";

  var FILE_NAME = "voxpria-recovery-codes.txt";

  function codesText(panel) {
    var codes = Array.prototype.map.call(
      panel.querySelectorAll("[data-recovery-codes-list] code"),
      function (code) { return code.textContent.trim(); }
    );
    return "VoxPria recovery codes\n" +
      "Each code signs you in once if you can't use your second factor.\n\n" +
      codes.join("\n") + "\n";
  }

  function selectCodes(panel) {
    var selection = window.getSelection();
    var range = document.createRange();
    range.selectNodeContents(panel.querySelector("[data-recovery-codes-list]"));
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function init(panel) {
    var copy = panel.querySelector("[data-recovery-codes-copy]");
    var download = panel.querySelector("[data-recovery-codes-download]");
    var status = panel.querySelector("[data-recovery-codes-status]");

    function say(text) { status.textContent = text; }

    if (navigator.clipboard && window.isSecureContext) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(codesText(panel)).then(function () {
          copy.textContent = "Copied";
          say("The recovery codes were copied.");
        }, function () {
          selectCodes(panel);
          say("Copying isn't available here. The codes are selected: press Ctrl+C to copy them.");
        });
      });
    }

    download.hidden = false;
    download.addEventListener("click", function () {
      var url = URL.createObjectURL(new Blob([codesText(panel)], { type: "text/plain" }));
      var link = document.createElement("a");
      link.href = url;
      link.download = FILE_NAME;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      say("The recovery codes were downloaded as " + FILE_NAME + ".");
    });
  }

  document.querySelectorAll("[data-recovery-codes]").forEach(init);
})();
