// Burn-up charts on the programme page. Data comes from a json_script element (no inline script);
// the same figures are in the table below the charts, for screen readers and without JavaScript.
"use strict";

(function () {
  const source = document.getElementById("burnup-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const css = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const accent = colour("--ds-color-accent-base-default", "#0062ba");
  const neutral = colour("--ds-color-neutral-border-default", "#6b7280");
  const danger = colour("--ds-color-danger-base-default", "#c22020");
  const band = "rgba(0, 98, 186, 0.12)";

  // Index of the first label on or after an ISO date (labels are ISO dates, one per week).
  const indexOf = (iso) => {
    if (!iso) return -1;
    const found = data.labels.findIndex((label) => label >= iso);
    return found === -1 ? data.labels.length - 1 : found;
  };

  // Draws the forecast band (P50 to P85) and the deadline as a vertical line, labelled.
  const markers = {
    id: "trackerMarkers",
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      const x = (index) => scales.x.getPixelForValue(index);
      ctx.save();
      const p50 = indexOf(data.p50);
      const p85 = indexOf(data.p85);
      if (p50 >= 0) {
        const right = p85 >= 0 ? x(p85) : chartArea.right;
        ctx.fillStyle = band;
        ctx.fillRect(x(p50), chartArea.top, Math.max(right - x(p50), 2), chartArea.bottom - chartArea.top);
        ctx.fillStyle = accent;
        ctx.font = "12px sans-serif";
        // Near the right edge the label goes to the left of the band, so it is never cut off.
        const width = ctx.measureText(data.text.band).width;
        const left = x(p50) + 4 + width > chartArea.right ? x(p50) - 4 - width : x(p50) + 4;
        ctx.fillText(data.text.band, left, chartArea.top + 28);
      }
      const deadline = indexOf(data.deadline);
      if (deadline >= 0) {
        ctx.strokeStyle = danger;
        ctx.lineWidth = 2;
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(x(deadline), chartArea.top);
        ctx.lineTo(x(deadline), chartArea.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = danger;
        ctx.font = "12px sans-serif";
        ctx.fillText(data.text.deadline + " " + data.deadline, x(deadline) + 4, chartArea.top + 12);
      }
      ctx.restore();
    },
  };

  const locale = document.documentElement.lang || "nb";
  const number = new Intl.NumberFormat(locale);

  const draw = (canvasId, done, total, doneLabel, totalLabel) => {
    const canvas = document.getElementById(canvasId);
    if (!canvas) return;
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: doneLabel, data: done, borderColor: accent, backgroundColor: accent, fill: false, pointRadius: 0, tension: 0.1, spanGaps: false },
          { label: totalLabel, data: total, borderColor: neutral, backgroundColor: neutral, borderDash: [4, 4], fill: false, pointRadius: 0, spanGaps: false },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxTicksLimit: 10, autoSkip: true } },
          y: { beginAtZero: true, ticks: { callback: (value) => number.format(value) } },
        },
        plugins: { legend: { position: "bottom" } },
      },
      plugins: [markers],
    });
  };

  draw("burnup-count", data.done_count, data.total_count, data.text.done, data.text.total);
  draw("burnup-volume", data.done_volume, data.total_volume, data.text.done_volume, data.text.total_volume);
})();
