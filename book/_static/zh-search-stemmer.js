// Sphinx 9.0's Chinese search data says `window.Stemmer = ChineseStemmer` but defines no ChineseStemmer, so every
// page of the Chinese edition raised a ReferenceError and its search found nothing. Sphinx's Chinese search stems
// Latin words the English way (sphinx/search/zh.py), so lend it the English stemmer that the same file defines.
// A window property, not a declaration, so that a Sphinx which defines ChineseStemmer itself still loads.
window.ChineseStemmer = function () {
  return new EnglishStemmer();
};
