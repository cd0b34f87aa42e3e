/**
 * Text that people read on an invoice, a page, a mail or the console: names, descriptions,
 * notes. It holds no control characters (C0, DEL, C1: a line break in a name splits a mail's
 * subject or a PDF's header line) and no bidirectional overrides or isolates (U+202A–U+202E,
 * U+2066–U+2069), which make text read otherwise on a page than it is stored: `INV-\u202e1002`
 * shows as INV-2001. Text of several lines (a footer, a memo, a reason) may break lines.
 */
export const LINE_TEXT = /^[^\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$/;
export const LINE_TEXT_RULE = 'must not contain control characters or bidirectional overrides';

export const LINES_TEXT = /^[^\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$/;
export const LINES_TEXT_RULE = 'must not contain control characters (line breaks aside) or bidirectional overrides';
