/* <time datetime="…" data-relative>: keep "3 minutes ago" true while the page stays open.
   The server writes the first words (studio/templatetags/relative_times.py); this rewrites them every
   30 seconds and whenever htmx brings new content, in the browser's own words (Intl.RelativeTimeFormat). */
(() => {
  const UNITS = [["year", 365 * 86400], ["month", 30 * 86400], ["week", 7 * 86400], ["day", 86400],
                 ["hour", 3600], ["minute", 60], ["second", 1]];
  const words = new Intl.RelativeTimeFormat(document.documentElement.lang || "en", { numeric: "always" });

  // The largest whole unit, as Django's naturaltime counts them: 59 s is "59 seconds ago", 60 s "1 minute ago".
  const say = (moment, now) => {
    const seconds = Math.round((moment - now) / 1000);
    if (Math.abs(seconds) < 1) return "now";
    for (const [unit, size] of UNITS) {
      const count = Math.trunc(seconds / size);
      if (count !== 0) return words.format(count, unit);
    }
    return "now";
  };

  const refresh = (root) => {
    const now = Date.now();
    root.querySelectorAll("time[data-relative][datetime]").forEach((element) => {
      const moment = Date.parse(element.getAttribute("datetime"));
      if (Number.isNaN(moment)) return;
      const text = say(moment, now);
      if (element.textContent !== text) element.textContent = text;
    });
  };

  document.addEventListener("DOMContentLoaded", () => refresh(document));
  document.addEventListener("htmx:load", (event) => refresh(event.target));
  setInterval(() => refresh(document), 30_000);
})();
