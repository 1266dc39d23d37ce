/**
 * A strict XML 1.0 well-formedness check for the JUnit files (no XML parser is among the
 * project's dependencies): one root element, every tag closed in order, attribute values
 * quoted and unique, text and attribute values with only the predefined or numeric entities
 * and no raw `<` or `&`. Returns the problems found (empty when well-formed) and the elements.
 */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*$/;
const ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

function unescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e] as string,
  );
}

export function parseXml(source: string): { root: XmlElement | undefined; problems: string[] } {
  const problems: string[] = [];
  let rest = source;
  const decl = /^<\?xml\s+version="1\.0"(\s+encoding="UTF-8")?\s*\?>\s*/.exec(rest);
  if (!decl) problems.push('missing or malformed XML declaration');
  else rest = rest.slice(decl[0].length);
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (rest.length > 0) {
    const lt = rest.indexOf('<');
    const text = lt === -1 ? rest : rest.slice(0, lt);
    if (text) {
      if (ENTITY.test(text)) problems.push(`bad entity in text: ${text.slice(0, 40)}`);
      if (stack.length === 0 && text.trim()) problems.push(`text outside the root: ${text.slice(0, 40)}`);
      const top = stack.at(-1);
      if (top) top.text += unescape(text);
    }
    if (lt === -1) break;
    rest = rest.slice(lt);
    const end = rest.indexOf('>');
    if (end === -1) {
      problems.push('unterminated tag');
      break;
    }
    const tag = rest.slice(0, end + 1);
    rest = rest.slice(end + 1);
    if (tag.startsWith('</')) {
      const name = tag.slice(2, -1).trim();
      const open = stack.pop();
      if (!open || open.name !== name) problems.push(`</${name}> closes ${open ? `<${open.name}>` : 'nothing'}`);
      continue;
    }
    const selfClosing = tag.endsWith('/>');
    const inner = tag.slice(1, selfClosing ? -2 : -1);
    const name = /^\S+/.exec(inner)?.[0] ?? '';
    if (!NAME.test(name)) problems.push(`bad element name ${JSON.stringify(name)}`);
    const element: XmlElement = { name, attributes: {}, children: [], text: '' };
    let attrs = inner.slice(name.length);
    const attrRe = /^\s+([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/;
    for (let m = attrRe.exec(attrs); m; m = attrRe.exec(attrs)) {
      const value = m[3] ?? m[4] ?? '';
      if (ENTITY.test(value)) problems.push(`bad entity in attribute ${m[1]}`);
      if ((m[1] as string) in element.attributes) problems.push(`duplicate attribute ${m[1]}`);
      element.attributes[m[1] as string] = unescape(value);
      attrs = attrs.slice(m[0].length);
    }
    if (attrs.trim()) problems.push(`malformed attributes in <${name}>: ${attrs.slice(0, 40)}`);
    const parent = stack.at(-1);
    if (parent) parent.children.push(element);
    else if (root) problems.push(`a second root <${name}>`);
    else root = element;
    if (!selfClosing) stack.push(element);
  }
  if (stack.length > 0) problems.push(`unclosed <${stack.map((e) => e.name).join('>, <')}>`);
  if (!root) problems.push('no root element');
  return { root, problems };
}
