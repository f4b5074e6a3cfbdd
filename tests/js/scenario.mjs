// AWS Support and Amazon Connect Cases through the AWS SDK for JavaScript v3, as an
// application would call them. The endpoint and credentials come from the environment
// (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), so nothing here names Casework. Prints one JSON
// object of what came back; tests/e2e/test_javascript_sdk.py checks it, and reads the same
// cases back through boto3.
import {
  AddAttachmentsToSetCommand, AddCommunicationToCaseCommand, CreateCaseCommand,
  DescribeAttachmentCommand, DescribeCasesCommand, DescribeCommunicationsCommand,
  SupportClient,
} from "@aws-sdk/client-support";
import {
  ConnectCasesClient, CreateCaseCommand as CreateConnectCaseCommand, CreateDomainCommand,
  CreateFieldCommand, CreateRelatedItemCommand, CreateTemplateCommand, GetCaseCommand,
  ListDomainsCommand, ListTagsForResourceCommand, SearchCasesCommand,
  SearchRelatedItemsCommand, TagResourceCommand, UpdateCaseCommand, paginateListDomains,
} from "@aws-sdk/client-connectcases";

const tag = process.argv[2];  // makes names unique per run
const out = {};

async function failure(send) {
  try {
    await send();
  } catch (error) {
    return { name: error.name, status: error.$metadata?.httpStatusCode, message: error.message };
  }
  return null;
}

// --- AWS Support (JSON 1.1) ---------------------------------------------------------------
const support = new SupportClient({});
const bytes = Uint8Array.from([0, 1, 2, 250, 251, 252, 10, 13, 65]);
const set = await support.send(new AddAttachmentsToSetCommand({
  attachments: [{ fileName: "trace.bin", data: bytes }],
}));
const created = await support.send(new CreateCaseCommand({
  subject: `From JavaScript ${tag}`, communicationBody: "Opened by the JS SDK",
  serviceCode: "amazon-elastic-compute-cloud-linux", categoryCode: "other",
  severityCode: "low", ccEmailAddresses: ["js@example.com"], attachmentSetId: set.attachmentSetId,
}));
await support.send(new AddCommunicationToCaseCommand({
  caseId: created.caseId, communicationBody: "A reply from the JS SDK",
}));
const described = await support.send(new DescribeCasesCommand({
  caseIdList: [created.caseId], includeCommunications: false,
}));
const communications = await support.send(new DescribeCommunicationsCommand({
  caseId: created.caseId,
}));
const attachmentId = communications.communications
  .flatMap((c) => c.attachmentSet ?? []).map((a) => a.attachmentId)[0];
const attachment = await support.send(new DescribeAttachmentCommand({ attachmentId }));
out.support = {
  caseId: created.caseId,
  case: described.cases[0],
  bodies: communications.communications.map((c) => c.body),
  attachmentId,
  attachmentFile: attachment.attachment.fileName,
  attachmentBytes: Array.from(attachment.attachment.data),
  sentBytes: Array.from(bytes),
  notFound: await failure(() => support.send(new DescribeCasesCommand({
    caseIdList: ["case-000000000000-muen-2026-0000000000000000"],
  }))),
};

// --- Amazon Connect Cases (REST-JSON) -------------------------------------------------------
const cases = new ConnectCasesClient({});
const { domainId, domainArn } = await cases.send(new CreateDomainCommand({ name: `js-${tag}` }));
const { fieldId } = await cases.send(new CreateFieldCommand({
  domainId, name: "Refund amount", type: "Number",
}));
const { templateId } = await cases.send(new CreateTemplateCommand({
  domainId, name: "JS template", status: "Active",
}));
const connectCase = await cases.send(new CreateConnectCaseCommand({
  domainId, templateId, fields: [
    { id: "title", value: { stringValue: "Ünïcode / slash ? and & from JS" } },
    { id: fieldId, value: { doubleValue: 12.5 } },
  ],
}));
await cases.send(new UpdateCaseCommand({
  domainId, caseId: connectCase.caseId,
  fields: [{ id: fieldId, value: { doubleValue: 99.25 } }],
}));
const got = await cases.send(new GetCaseCommand({
  domainId, caseId: connectCase.caseId, fields: [{ id: "title" }, { id: fieldId }],
}));
const searched = await cases.send(new SearchCasesCommand({
  domainId, fields: [{ id: "title" }],
  filter: { field: { greaterThan: { id: fieldId, value: { doubleValue: 50 } } } },
}));
await cases.send(new CreateRelatedItemCommand({
  domainId, caseId: connectCase.caseId, type: "Comment",
  content: { comment: { body: "A comment from JS", contentType: "Text/Plain" } },
}));
const related = await cases.send(new SearchRelatedItemsCommand({
  domainId, caseId: connectCase.caseId, filters: [{ comment: {} }],
}));
// The domain's ARN is a path label: its ':' and '/' travel percent-encoded.
await cases.send(new TagResourceCommand({ arn: domainArn, tags: { team: "js", "a b": "c/d" } }));
const tags = await cases.send(new ListTagsForResourceCommand({ arn: domainArn }));
const domainIds = [];
for await (const page of paginateListDomains({ client: cases, pageSize: 1 }, {})) {
  domainIds.push(...page.domains.map((d) => d.domainId));
}
out.connect = {
  domainId, fieldId, caseId: connectCase.caseId,
  fields: got.fields, templateId: got.templateId,
  searchTotal: searched.totalCount, searchCaseIds: searched.cases.map((c) => c.caseId),
  comments: related.relatedItems.map((r) => r.content.comment.body),
  tags: tags.tags,
  listedDomain: domainIds.includes(domainId),
  notFound: await failure(() => cases.send(new GetCaseCommand({
    domainId, caseId: "00000000-0000-0000-0000-000000000000", fields: [{ id: "title" }],
  }))),
};
// The JavaScript SDK checks no constraint of the models before sending: the server does.
out.refused = [
  await failure(() => support.send(new CreateCaseCommand({ communicationBody: "no subject" }))),
  await failure(() => cases.send(new ListDomainsCommand({ maxResults: 0 }))),
  await failure(() => cases.send(new CreateConnectCaseCommand({ domainId, templateId }))),
];
console.log(JSON.stringify(out));
