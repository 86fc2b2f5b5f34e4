// The sign-in form sends the browser's own time zone, so the workspace shows local times.
document.getElementById("zone").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
