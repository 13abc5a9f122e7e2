/**
 * The slice of jsdom (a DOM for Node) the plan check uses: a window for DOMPurify and its
 * XMLSerializer. Declared here rather than with @types/jsdom, whose `lib: dom` reference would
 * bring the browser's global types (fetch, Node …) into every server file.
 */
declare module 'jsdom' {
  export class JSDOM {
    constructor(html?: string);
    readonly window: { XMLSerializer: new () => { serializeToString(node: unknown): string } };
  }
}
