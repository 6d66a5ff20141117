// Placeholder: the web UI replaces this script.
"use strict";
fetch("/api/v1/services")
  .then((r) => r.json())
  .then((j) => {
    const p = document.createElement("p");
    p.textContent = "Services: " + (j.services.join(", ") || "none yet");
    document.getElementById("app").appendChild(p);
  });
