// The AI page's question box: streams the answer in (server-sent events over fetch) and refreshes the
// history panel. Without this script the form posts normally and the server renders the answer.
(function () {
  "use strict";
  var form = document.getElementById("ask-form");
  var area = document.getElementById("answer-area");
  if (!form || !area || !window.fetch || !window.TextDecoder || !window.ReadableStream) return;
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var box = form.querySelector("textarea[name=question]");
  var button = form.querySelector("button[type=submit]");

  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function pending(question) {
    var article = element("article", "answer answer-pending");
    var q = element("div", "answer-q");
    q.appendChild(element("span", "avatar avatar-user"));
    q.appendChild(element("p", "question", question));
    var a = element("div", "answer-a");
    a.appendChild(element("span", "avatar avatar-ai"));
    var body = element("div", "answer-body");
    var status = element("p", "stream-status");
    status.appendChild(element("span", "spinner"));
    var label = element("span", "", "Thinking…");
    status.appendChild(label);
    var text = element("div", "prose answer-text streaming");
    body.appendChild(status);
    body.appendChild(text);
    a.appendChild(body);
    article.appendChild(q);
    article.appendChild(a);
    area.replaceChildren(article);
    return { status: status, label: label, text: text };
  }

  function parse(raw) {
    var name = "message", data = "";
    raw.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) name = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
    });
    return { name: name, data: data ? JSON.parse(data) : null };
  }

  function refreshHistory(current) {
    var old = document.getElementById("history");
    if (!old) return;
    fetch("/ai/history?current=" + encodeURIComponent(current || ""), { headers: { "HX-Request": "true" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.firstElementChild;
        old.replaceWith(fresh);
        if (window.htmx) window.htmx.process(fresh);
      });
  }

  function finish(data) {
    area.innerHTML = data.html;  // rendered and sanitised on the server
    if (window.htmx) window.htmx.process(area);
    if (data.url) window.history.pushState({}, "", data.url);
    if (data.conversation_id) {
      var hidden = form.querySelector("input[name=conversation_id]");
      if (!hidden) {
        hidden = element("input");
        hidden.type = "hidden";
        hidden.name = "conversation_id";
        form.appendChild(hidden);
      }
      hidden.value = data.conversation_id;
    }
    box.value = "";
    refreshHistory(data.prompt_id);
  }

  form.addEventListener("submit", function (event) {
    var question = box.value.trim();
    if (!question) return;
    event.preventDefault();
    var view = pending(question);
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "Accept": "text/event-stream", "X-CSRF-Token": csrf },
    }).then(function (response) {
      if (response.redirected) { window.location.href = response.url; return null; }
      var type = response.headers.get("content-type") || "";
      if (!response.ok || type.indexOf("text/event-stream") !== 0 || !response.body) {
        form.submit();  // let the server render what went wrong
        return null;
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer += decoder.decode(chunk.value, { stream: true });
          var cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            var message = parse(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
            if (message.name === "status") view.label.textContent = message.data.text;
            else if (message.name === "delta") { view.status.hidden = true; view.text.append(message.data.text); }
            else if (message.name === "final") finish(message.data);
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      view.label.textContent = "The connection was lost. Your question may still have been answered: see the history.";
    }).then(function () { button.disabled = false; });
  });
})();
