// cytoscape-elk ships no types: a Cytoscape extension (cytoscape.use(elk)).
declare module 'cytoscape-elk' {
  import type cytoscape from 'cytoscape';
  const ext: cytoscape.Ext;
  export default ext;
}
