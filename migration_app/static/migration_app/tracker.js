// Small progressive enhancements; every page works without them.
"use strict";

// Selects marked data-autosubmit (the language switch) submit their form when changed.
document.addEventListener("change", (event) => {
  const control = event.target.closest("[data-autosubmit]");
  if (control && control.form) {
    control.form.requestSubmit();
  }
});

// htmx may have changed the address (filters, sorting, paging) since the page was rendered:
// return to where the user is now after switching language.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.matches("[data-language-switch]") && form.elements.next) {
    form.elements.next.value = window.location.pathname + window.location.search;
  }
});
