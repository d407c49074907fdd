// Read a .dmn file with dmn-moddle (the parser under dmn-js and Camunda Modeler)
// and print, as JSON, the warnings it gave and what it sees in each decision table.
// Usage: node dmn-moddle-read.mjs MODEL.dmn
import { readFileSync } from 'node:fs';
import { DmnModdle } from 'dmn-moddle';

const xml = readFileSync(process.argv[2], 'utf8');
const moddle = new DmnModdle();
let parsed;
try {
  parsed = await moddle.fromXML(xml, 'dmn:Definitions');
} catch (error) {
  console.log(JSON.stringify({ error: String(error.message || error) }));
  process.exit(0);
}
const { rootElement: definitions, warnings } = parsed;
const text = (expression) => (expression && expression.text) || '';
const decisions = (definitions.drgElement || [])
  .filter((element) => element.$type === 'dmn:Decision')
  .map((decision) => {
    const logic = decision.decisionLogic;
    const table = logic && logic.$type === 'dmn:DecisionTable' ? logic : null;
    return {
      name: decision.name,
      logic: logic ? logic.$type : null,
      hitPolicy: table ? table.hitPolicy || 'UNIQUE' : null,
      aggregation: table ? table.aggregation || null : null,
      inputs: table ? (table.input || []).map((input) => ({ label: input.label || '', expression: text(input.inputExpression) })) : [],
      outputs: table ? (table.output || []).map((output) => ({ name: output.name || '', typeRef: output.typeRef || null })) : [],
      rules: table
        ? (table.rule || []).map((rule) => ({
            id: rule.label || rule.id,
            inputEntries: (rule.inputEntry || []).map(text),
            outputEntries: (rule.outputEntry || []).map(text),
            annotations: (rule.annotationEntry || []).map(text),
          }))
        : [],
    };
  });
console.log(JSON.stringify({
  namespace: definitions.$attrs ? definitions.$attrs.xmlns || null : null,
  warnings: warnings.map((w) => String(w.message)),
  decisions,
  inputData: (definitions.drgElement || []).filter((e) => e.$type === 'dmn:InputData').map((e) => e.name),
}));
