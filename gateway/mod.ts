// The gateway process arrives with the end-to-end issue.
export {};
