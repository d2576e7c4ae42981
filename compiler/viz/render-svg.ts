/**
 * Renders DOT to SVG with Graphviz compiled to WebAssembly (`@viz-js/viz`, bundled
 * in the package: no system Graphviz needed). Loaded on first use, since most
 * commands never draw.
 */
export async function renderDotSvg(dot: string): Promise<string> {
  const { instance } = await import("@viz-js/viz");
  const viz = await instance();
  return viz.renderString(dot, { format: "svg", engine: "dot" });
}
