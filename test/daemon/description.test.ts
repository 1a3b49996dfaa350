/**
 * Descriptions as HTML: the format chosen by Description-Content-Type as PyPI chooses it,
 * the reStructuredText subset, and the sanitiser that nothing active gets through.
 */
import { describe, expect, it } from 'vitest';
import { descriptionFormat, renderDescription } from '../../src/daemon/services/description.js';
import { renderRst } from '../../src/daemon/services/rst.js';
import { activeMarkup } from '../helpers/html.js';

const MARKDOWN_ATTACKS = [
  '<script>alert(1)</script>',
  '<img src=x onerror="alert(1)">',
  '<a href="javascript:alert(1)">click</a>',
  '[md link](javascript:alert(1))',
  '[data link](data:text/html;base64,PHNjcmlwdD4=)',
  '<iframe src="https://evil.example/"></iframe>',
  '<style>body{display:none}</style>',
  '<p style="position:fixed" onclick="x()">styled</p>',
  '<svg onload="alert(1)"><circle r="1"/></svg>',
  '<object data="x.swf"></object><embed src="x.swf">',
  '<form action="https://evil.example/"><input name="p"></form>',
  '<details open ontoggle="alert(1)"><summary>s</summary>x</details>',
  '<a href="  JaVaScRiPt:alert(1)">spaced</a>',
  '<base href="https://evil.example/">',
  '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
];

describe('descriptionFormat (as PyPI reads Description-Content-Type)', () => {
  it.each([
    ['text/markdown', 'markdown'],
    ['text/markdown; charset=UTF-8; variant=GFM', 'markdown'],
    ['Text/Markdown', 'markdown'],
    ['text/x-rst', 'rst'],
    [null, 'rst'],
    ['', 'rst'],
    ['text/plain', 'plain'],
    ['text/html', 'plain'],
  ] as const)('%j is %s', (type, format) => {
    expect(descriptionFormat(type)).toBe(format);
  });
});

describe('Markdown descriptions', () => {
  it('render headings (under the page headings), emphasis, code blocks, lists and tables', () => {
    const { html } = renderDescription('# Title\n\nSome **bold** `code`.\n\n```python\nprint(1)\n```\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n', 'text/markdown');
    expect(html).toContain('<h3>Title</h3>');
    expect(html).toContain('<strong>bold</strong> <code>code</code>');
    expect(html).toContain('<pre><code class="language-python">print(1)');
    expect(html).toContain('<li>a</li>');
    expect(html).toContain('<td>1</td>');
  });

  it('give links rel="nofollow noopener" and images as links, never loaded', () => {
    const { html } = renderDescription('[site](https://example.com/) ![badge](https://img.example/b.svg)', 'text/markdown');
    expect(html).toContain('<a href="https://example.com/" rel="nofollow noopener">site</a>');
    expect(html).toContain('<a href="https://img.example/b.svg" rel="nofollow noopener">[image: badge]</a>');
    expect(html).not.toContain('<img');
  });

  it.each(MARKDOWN_ATTACKS)('let nothing active through from %j', (attack) => {
    const { html } = renderDescription(`Before.\n\n${attack}\n\nInline ${attack} too.\n`, 'text/markdown');
    expect(activeMarkup(html)).toEqual([]);
    expect(html).not.toMatch(/alert\(1\)<\/script>|display:none/);
    expect(html).toContain('Before.');
  });

  it('keep harmless raw HTML (details, sub, kbd)', () => {
    const { html } = renderDescription('<details><summary>More</summary>\n\nhidden\n</details>\n\nH<sub>2</sub>O <kbd>Ctrl</kbd>', 'text/markdown');
    expect(html).toContain('<details><summary>More</summary>');
    expect(html).toContain('H<sub>2</sub>O <kbd>Ctrl</kbd>');
  });
});

describe('reStructuredText descriptions', () => {
  const rst = [
    '=========',
    'My Proj',
    '=========',
    '',
    'Intro with *emph*, **strong**, ``literal``, `a link <https://example.com/>`_, `named`_ and https://bare.example.org/x.',
    '',
    'Usage',
    '-----',
    '',
    '- one',
    '- two',
    '  continued',
    '',
    '1. first',
    '2. second',
    '',
    'Example::',
    '',
    '    code here',
    '',
    '.. code-block:: python',
    '',
    '   print("hi")',
    '',
    '.. note:: Mind *this*.',
    '',
    '.. image:: https://img.example/badge.svg',
    '   :target: https://ci.example/',
    '   :alt: build status',
    '',
    'Sub',
    '~~~',
    '',
    '+---+---+',
    '| a | b |',
    '+---+---+',
    '',
    '.. _named: https://named.example.com/',
    '',
  ].join('\n');

  it('render the common subset', () => {
    const html = renderRst(rst);
    expect(html).toContain('<h1>My Proj</h1>');
    expect(html).toContain('<h2>Usage</h2>');
    expect(html).toContain('<h3>Sub</h3>');
    expect(html).toContain('<em>emph</em>, <strong>strong</strong>, <code>literal</code>');
    expect(html).toContain('<a href="https://example.com/">a link</a>');
    expect(html).toContain('<a href="https://named.example.com/">named</a>');
    expect(html).toContain('<a href="https://bare.example.org/x">https://bare.example.org/x</a>.');
    expect(html).toMatch(/<ul>\n<li>one<\/li>\n<li>two\ncontinued<\/li>\n<\/ul>/);
    expect(html).toMatch(/<ol>\n<li>first<\/li>\n<li>second<\/li>\n<\/ol>/);
    expect(html).toContain('<p>Example:</p>\n<pre><code>code here</code></pre>');
    expect(html).toContain('<pre><code class="language-python">print(&quot;hi&quot;)</code></pre>');
    expect(html).toContain('<strong>Note:</strong> Mind <em>this</em>.');
    expect(html).toContain('<a href="https://ci.example/">[image: build status]</a>');
    // What the subset does not know is shown as written.
    expect(html).toContain('<pre><code>+---+---+\n| a | b |\n+---+---+</code></pre>');
  });

  it('are the default when there is no Description-Content-Type, and sanitised like Markdown', () => {
    const { html, format } = renderDescription(rst, null);
    expect(format).toBe('rst');
    expect(html).toContain('<h3>My Proj</h3>');
    expect(html).toContain('<a href="https://example.com/" rel="nofollow noopener">a link</a>');
  });

  it.each([
    ['a raw directive', '.. raw:: html\n\n   <script>alert(1)</script>\n   <iframe src="https://evil.example/"></iframe>\n'],
    ['a javascript: link', '`click <javascript:alert(1)>`_'],
    ['a javascript: target', '`click`_\n\n.. _click: javascript:alert(1)\n'],
    ['raw HTML in text', 'Text <script>alert(1)</script> <img src=x onerror=alert(1)> <style>x</style>'],
    ['an image with a script URL', '.. image:: javascript:alert(1)\n   :alt: x\n'],
    ['a literal block of HTML', 'Code::\n\n    <script>alert(1)</script>\n'],
  ])('let nothing active through from %s', (_what, source) => {
    const { html } = renderDescription(source, 'text/x-rst');
    expect(activeMarkup(html)).toEqual([]);
    expect(html).not.toContain('<script');
    expect(html).not.toMatch(/href="javascript/i);
  });
});

describe('plain-text descriptions', () => {
  it('are preformatted and escaped', () => {
    const { html } = renderDescription('Line <b>one</b>\n  indented\n', 'text/plain');
    expect(html).toBe('<pre class="plain">Line &lt;b&gt;one&lt;/b&gt;\n  indented</pre>\n');
  });

  it('are what a description too long to render becomes, quickly', () => {
    const huge = `# Title\n\n${'Some **text** <script>x</script>\n\n'.repeat(20_000)}`;
    const started = performance.now();
    const { html, format } = renderDescription(huge, 'text/markdown');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(format).toBe('plain');
    expect(html).toMatch(/^<p class="muted">This description is longer than 256 KiB, so it is shown as plain text\.<\/p>\n<pre class="plain"># Title/);
    expect(html).not.toContain('<script');
  });

  it.each([
    ['Markdown quotes nested 100,000 deep', '> '.repeat(100_000), 'text/markdown'],
    ['Markdown lists nested 100,000 deep', '- '.repeat(100_000), 'text/markdown'],
    ['reStructuredText bullets nested 100,000 deep', '* '.repeat(100_000), 'text/x-rst'],
    ['a long run of spaces before each line end', `${' '.repeat(5000)}x\n`.repeat(100), 'text/plain'],
  ])('are what %s becomes, or it renders, without blowing the stack or taking long', (_what, text, type) => {
    const started = performance.now();
    const { html } = renderDescription(`${text}x`, type);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(html).not.toBe('');
  });

  it('render nothing for an empty or UNKNOWN description', () => {
    expect(renderDescription('', 'text/markdown').html).toBe('');
    expect(renderDescription('UNKNOWN\n', null).html).toBe('');
    expect(renderDescription(null, null).html).toBe('');
  });
});
