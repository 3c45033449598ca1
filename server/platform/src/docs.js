// Kept out of the page so that the page's policy allows scripts from this origin only.
const el = document.getElementById("reference");
Redoc.init(el.dataset.spec, { hideDownloadButton: false }, el);
